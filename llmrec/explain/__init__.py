"""Justifications: short texts that say why an item was recommended, citing only card facts and history."""
