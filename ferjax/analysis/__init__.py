"""Analysis of finished work: reports of workdirs, sweeps of a config's points, embedding geometry,
plots."""
