/* certjson.h - test support: read and write certificate JSON files (for tampering tests).
 * Both abort with a message naming the file when it cannot be read, parsed or written (a broken
 * test fixture, never the code under test). */
#ifndef TL_TEST_CERTJSON_H
#define TL_TEST_CERTJSON_H

#include <cjson/cJSON.h>

/* The parsed document (caller frees with cJSON_Delete). */
cJSON *tl_test_json_load(const char *path);
/* Write j unformatted to path, atomically. */
void tl_test_json_save(const char *path, const cJSON *j);

#endif
