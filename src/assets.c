/* assets.c - lookup of the files embedded at build time. */
#include "axon/assets.h"

#include <string.h>

struct embedded_file {
    const char *name;
    const char *data;
    size_t size;
};
extern const struct embedded_file asset_files[];
extern const int asset_files_count;

const char *asset_get(const char *name, size_t *size)
{
    for (int i = 0; i < asset_files_count; i++)
        if (strcmp(asset_files[i].name, name) == 0) {
            *size = asset_files[i].size;
            return asset_files[i].data;
        }
    *size = 0;
    return NULL;
}
