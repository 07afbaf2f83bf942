/* The application/x-www-form-urlencoded parser (lib/form.c) and the
 * UTF-8 check it shares with the JSON scanner. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "form.h"
#include "harness.h"
#include "json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj = NULL, *back = NULL;
	struct json_object_iterator it, end;
	char err[PH_ERRLEN];
	const char *text;

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
	/* The JSON text of the fields is what webhook_events.payload keeps
	 * (a jsonb column): the strict scanner, which reads as jsonb does,
	 * must take it back. */
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	if (text == NULL)
		abort();
	if (ph_json_parse(text, strlen(text), &back, err, sizeof err) != PH_OK) {
		fprintf(stderr, "form payload not valid JSON: %s\n", err);
		abort();
	}
	json_object_put(back);
	json_object_put(obj);
	return 0;
}
