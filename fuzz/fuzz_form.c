/* The application/x-www-form-urlencoded parser (lib/form.c) and the
 * UTF-8 check it shares with the JSON scanner. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "harness.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj = NULL;
	struct json_object_iterator it, end;
	char err[PH_ERRLEN];

	(void)ph_utf8_valid(data, size);
	if (ph_form_parse((const char *)data, size, &obj, err, sizeof err) != PH_OK) {
		if (obj != NULL || strlen(err) >= sizeof err)
			abort();
		return 0;
	}
	/* Every member is a string of valid UTF-8 without NUL, as promised. */
	it = json_object_iter_begin(obj);
	end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		size_t vlen;

		if (name[0] == '\0' || strlen(name) > PH_FORM_MAX_NAME ||
		    !ph_utf8_valid((const unsigned char *)name, strlen(name)) ||
		    !json_object_is_type(v, json_type_string))
			abort();
		vlen = (size_t)json_object_get_string_len(v);
		if (memchr(json_object_get_string(v), '\0', vlen) != NULL ||
		    !ph_utf8_valid((const unsigned char *)json_object_get_string(v), vlen))
			abort();
	}
	if (json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN) == NULL)
		abort();
	json_object_put(obj);
	return 0;
}
