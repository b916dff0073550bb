"""joule's shared ground, imported by every other package and importing none of them: the record
schema and training formats, errors, I/O, config composition, the energy meter, FLOP counts and
the evaluation-set loader."""
