"""Versioned business parameters (TOML) with their sources; loaded by xinbao.parameters."""
