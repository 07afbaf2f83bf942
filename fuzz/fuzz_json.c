/* The strict JSON scanner (lib/json.c) and its typed field access. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "harness.h"
#include "json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"id", "event", "tid", "timestamp", "data"};
	struct json_object *obj = NULL;
	char err[PH_ERRLEN], buf[PH_ID_MAX];
	const char *s;
	size_t i;

	if (ph_json_parse((const char *)data, size, &obj, err, sizeof err) != PH_OK) {
		if (obj != NULL || strlen(err) >= sizeof err)
			abort();
		return 0;
	}
	if (!json_object_is_type(obj, json_type_object))
		abort();    /* the contract: one object or an error */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		(void)ph_json_string(obj, keys[i], PH_OPTIONAL, &s, err, sizeof err);
		(void)ph_json_required_text(obj, keys[i], 64, &s, err, sizeof err);
		if (ph_json_integer_id(obj, keys[i], buf, sizeof buf, err, sizeof err) == PH_OK &&
		    strlen(buf) >= sizeof buf)
			abort();
		if (ph_json_text_id(obj, keys[i], buf, sizeof buf, err, sizeof err) == PH_OK &&
		    (buf[0] == '\0' || strlen(buf) >= sizeof buf))
			abort();
	}
	/* What webhook_events.payload would hold for a form; must not fail. */
	if (json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN) == NULL)
		abort();
	json_object_put(obj);
	return 0;
}
