"""Training: one generic trainer for the teacher, the students and the baselines; run directories."""
