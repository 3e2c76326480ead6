"""E-mail: the doors a message comes in by and the one path that receives it."""
