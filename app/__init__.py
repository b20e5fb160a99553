"""HyperINR Explorer application layer: the command-line tool, the Qt explorer and export."""
