"""Photos as files and pixels: formats, safe reading, decoding (RAW included), sizes,
in-flight markers.

Nothing here knows the catalog or the model; import the module you need (this package
imports nothing, so naming an extension never loads Pillow)."""
