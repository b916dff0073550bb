"""joule's stages: one thin module per DVC stage (`python -m pipeline.<stage>`). They read the
config, call the library packages and write outputs and metrics; no other package imports them."""
