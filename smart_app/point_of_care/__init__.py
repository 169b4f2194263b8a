"""The point-of-care feature: the page where the clinician documents a service, checks it, reviews and signs.

One package so the feature reads as a whole: ``views`` (the page), ``api`` (the live check and drafts),
``sign`` (review and sign), ``form``/``evaluation``/``note``/``page``/``card``/``context``/``style``/
``curricula`` (what those need), ``drafts`` (the server-side drafts table); its templates are in
``templates/document/`` beside it (shipped in the wheel as package data).
"""
