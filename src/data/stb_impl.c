/* The stb decoders and resizer compiled into edgeq_data (rather than linking Debian's libstb): the image
 * decoder parses untrusted uploads (predict, serve), so it must be built with our sanitizer and fuzzer
 * flags like the rest of the parsers. Third-party code: compiled without our warning flags. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 8192 /* refuse decompression bombs before allocating */

#include <stb_image.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
