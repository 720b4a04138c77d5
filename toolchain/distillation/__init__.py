"""Bidirectional self-supervised knowledge distillation (EODRec section 5) and OD-Rec's one-way variant."""
