/* payhook nicepay-webhook register|list|update|delete: NicePay's webhook
 * URL API (providers/nicepay.md section 4). Register and update make
 * NicePay post a sample notification to the URL and succeed only when it
 * answers exactly OK; around those calls a registration window is opened
 * in the database so that the handler stores the sample as 'test' (DESIGN.md,
 * Replies). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api.h"
#include "cli.h"
#include "util.h"

#define PH_NPW_WINDOW     120    /* seconds the registration window stays open */
#define PH_NPW_STR_(x)    #x
#define PH_NPW_STR(x)     PH_NPW_STR_(x)
#define PH_NPW_URL_MAX    200    /* NicePay's limit on url */
#define PH_NPW_EMAIL_MAX  255

static const char *const methods[] = {"card", "bank", "vbank", "cellphone"};

/* What a merchant should do about NicePay's codes (section 4.5). */
static const struct {
	const char *code;
	const char *hint;
} hints[] = {
	{"U333", "a URL is already registered for this method: use update"},
	{"U334", "no URL to update or delete for this method, or NicePay could not change it"},
	{"U335", "NicePay could not create the registration; try again later"},
	{"U336", "NicePay could not reach the URL (address, TLS, firewall or timeout)"},
	{"U337", "the URL answered NicePay's sample with an HTTP status other than 200"},
	{"U338", "the URL must answer NicePay's sample with exactly OK (nothing else in the body)"},
	{"U700", "the URL's answer to the sample is too long: it must be exactly OK"},
	{"U100", "a required field is missing"},
	{"U105", "a field is too long (url: 200 bytes at most)"},
	{"U101", "credentials could not be decoded: check nicepay_client_key and nicepay_secret_key"},
	{"U102", "no credentials sent: set nicepay_client_key and nicepay_secret_key"},
	{"U103", "this key is issued for another authentication type (Basic vs token)"},
	{"U104", "authentication failed: check nicepay_client_key and nicepay_secret_key"},
	{"U304", "Basic authentication failed: check nicepay_client_key and nicepay_secret_key"},
	{"U315", "this host's address is not in the console's IP security list"},
	{"A224", "this host's address is not in the console's IP security list"},
};

enum npw_action { NPW_REGISTER, NPW_LIST, NPW_UPDATE, NPW_DELETE };

static const char *
hint_for(const char *code)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(hints); i++)
		if (strcmp(hints[i].code, code) == 0)
			return hints[i].hint;
	return NULL;
}

/* The registered URLs of a reply: an array, or (the English manual) one
 * object; NULL when none. The caller releases the result. */
static struct json_object *
reply_urls(struct json_object *reply)
{
	struct json_object *u, *arr;

	if (reply == NULL || !json_object_object_get_ex(reply, "urls", &u) || u == NULL)
		return json_object_new_array();
	if (json_object_is_type(u, json_type_array))
		return json_object_get(u);
	arr = json_object_new_array();
	if (arr != NULL && json_object_is_type(u, json_type_object))
		json_object_array_add(arr, json_object_get(u));
	return arr;
}

static const char *
field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
	    json_object_is_type(v, json_type_null))
		return "";
	return json_object_get_string(v);
}

static void
print_table(struct json_object *urls)
{
	size_t i, n = json_object_array_length(urls);
	char m[32], u[PH_NPW_URL_MAX + 1], e[PH_NPW_EMAIL_MAX + 1];

	if (n == 0) {
		printf("no webhook URL registered\n");
		return;
	}
	printf("%-10s %-60s %s\n", "METHOD", "URL", "MANAGER");
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(urls, i);
		const char *s;

		if (o == NULL || !json_object_is_type(o, json_type_object))
			continue;
		s = field(o, "method");
		ph_sanitize(m, sizeof m, s, strlen(s));
		s = field(o, "url");
		ph_sanitize(u, sizeof u, s, strlen(s));
		s = field(o, "managerEmail");
		ph_sanitize(e, sizeof e, s, strlen(s));
		printf("%-10s %-60s %s\n", m, u, e);
	}
}

/* The notification NicePay's console sends as a test (providers/nicepay.md
 * 4.4): a UTWEBHOOK tid and empty status and payMethod, which payhook's
 * handler answers OK and stores as 'test' without a registration window. */
static const char self_check_body[] =
    "{\"resultCode\":\"0000\",\"resultMsg\":\"\",\"tid\":\"UTWEBHOOKpayhookselfcheck000000\","
    "\"orderId\":\"0\",\"ediDate\":\"2000-01-01T00:00:00.000+0900\",\"signature\":null,"
    "\"status\":\"\",\"payMethod\":\"\",\"amount\":0,\"balanceAmt\":0}";

static bool
self_check(const char *url, long timeout)
{
	char reply[64], err[PH_API_ERRLEN];
	long status;

	if (ph_api_probe(url, self_check_body, timeout, &status, reply, sizeof reply, err,
	    sizeof err) != PH_API_OK) {
		fprintf(stderr, "%s: self-check: %s: %s\n", cli_progname, url, err);
		return false;
	}
	if (status != 200 || strcmp(reply, "OK") != 0) {
		fprintf(stderr, "%s: self-check: %s answered HTTP %ld with '%s'; NicePay "
		    "registers only a URL that answers 200 with exactly OK\n", cli_progname, url,
		    status, reply);
		return false;
	}
	printf("self-check: %s answered OK\n", url);
	return true;
}

/* Opens the handler's registration window (the sample NicePay sends is
 * signed with a key the merchant does not have). NULL when the database
 * cannot be reached: the sample may then be refused, and the caller says so. */
static PGconn *
open_window(const struct ph_config *cfg)
{
	PGconn *conn = cli_connect_db(ph_config_get(cfg, PH_CONF_DATABASE) != NULL ?
	    ph_config_get(cfg, PH_CONF_DATABASE) : "");

	if (conn == NULL)
		return NULL;
	if (!cli_exec_ok(conn, "SELECT payhook.nicepay_open_registration_window("
	    PH_NPW_STR(PH_NPW_WINDOW) ")", "opening the registration window")) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int
cmd_nicepay_webhook(const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'J'},
		{"email", required_argument, NULL, 'e'},
		{"self-check", no_argument, NULL, 'S'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const actions[] = {"register", "list", "update", "delete"};
	const char *config = NULL, *email = NULL, *usage = self->usage;
	const char *method = NULL, *url = NULL;
	char err[PH_API_ERRLEN], path[PH_API_PATH_MAX];
	struct ph_api_opts aopts = {0, 0, 1};   /* register is not idempotent: one try */
	struct ph_api_reply reply;
	struct ph_config *cfg = NULL;
	struct ph_api *api = NULL;
	struct json_object *body = NULL, *urls = NULL;
	enum ph_api_result res;
	enum npw_action action;
	PGconn *window = NULL;
	bool json = false, check = false;
	uint64_t v;
	size_t i;
	int c, status = 1, nargs;

	memset(&reply, 0, sizeof reply);
	while ((c = getopt_long(argc, argv, "c:Je:St:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'J': json = true; break;
		case 'e': email = optarg; break;
		case 'S': check = true; break;
		case 't':
			if (!ph_parse_u64(optarg, 600, &v) || v == 0)
				cli_die_usage(usage);
			aopts.timeout = (long)v;
			break;
		case 'h': printf("usage: %s %s\n", cli_progname, usage); return 0;
		default: cli_die_usage(usage);
		}
	}
	nargs = argc - optind;
	if (nargs < 1)
		cli_die_usage(usage);
	for (i = 0; i < PH_ARRAY_LEN(actions); i++)
		if (strcmp(argv[optind], actions[i]) == 0)
			break;
	if (i == PH_ARRAY_LEN(actions))
		cli_die_usage(usage);
	action = (enum npw_action)i;
	if ((action == NPW_LIST && nargs != 1) || (action == NPW_DELETE && nargs != 2) ||
	    ((action == NPW_REGISTER || action == NPW_UPDATE) && nargs != 3))
		cli_die_usage(usage);
	if (nargs >= 2) {
		method = argv[optind + 1];
		if (!ph_str_in(method, methods, PH_ARRAY_LEN(methods))) {
			fprintf(stderr, "%s: nicepay-webhook: method must be card, bank, vbank or "
			    "cellphone, not '%s'\n", cli_progname, method);
			return 2;
		}
	}
	if (nargs == 3) {
		url = argv[optind + 2];
		if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
		    strlen(url) > PH_NPW_URL_MAX) {
			fprintf(stderr, "%s: nicepay-webhook: URL must start with https:// and be at "
			    "most %d bytes\n", cli_progname, PH_NPW_URL_MAX);
			return 2;
		}
	}
	if (email != NULL && strlen(email) > PH_NPW_EMAIL_MAX)
		cli_die_usage(usage);
	if (check && url == NULL)
		cli_die_usage(usage);

	if ((cfg = cli_load_config(config)) == NULL)
		return 1;
	if ((api = ph_api_new(cfg, PH_API_NICEPAY, &aopts, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s: nicepay-webhook: %s\n", cli_progname, err);
		goto out;
	}
	if (check && !self_check(url, aopts.timeout > 0 ? aopts.timeout : 10))
		goto out;

	if (url != NULL) {
		body = json_object_new_object();
		if (body == NULL)
			goto out;
		if (action == NPW_REGISTER)
			json_object_object_add(body, "method", json_object_new_string(method));
		json_object_object_add(body, "url", json_object_new_string(url));
		if (email != NULL)
			json_object_object_add(body, "managerEmail", json_object_new_string(email));
		window = open_window(cfg);
		if (window == NULL)
			fprintf(stderr, "%s: warning: no registration window (database "
			    "unreachable): the handler may refuse NicePay's sample\n", cli_progname);
	}
	switch (action) {
	case NPW_REGISTER:
		snprintf(path, sizeof path, "/v1/webhook");
		break;
	case NPW_LIST:
		snprintf(path, sizeof path, "/v1/webhook");
		break;
	case NPW_UPDATE:
		snprintf(path, sizeof path, "/v1/webhook/%s/update", method);
		break;
	case NPW_DELETE:
		snprintf(path, sizeof path, "/v1/webhook/%s/delete", method);
		break;
	}
	res = ph_api_call(api, action == NPW_LIST ? "GET" : "POST", path,
	    body != NULL ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE) : action == NPW_DELETE ? "{}" : NULL,
	    &reply, err, sizeof err);
	if (window != NULL) {
		cli_exec_ok(window, "SELECT payhook.nicepay_close_registration_window()",
		    "closing the registration window");
		PQfinish(window);
		window = NULL;
	}
	if (res != PH_API_OK) {
		const char *hint = reply.result_code[0] != '\0' ? hint_for(reply.result_code) : NULL;

		fprintf(stderr, "%s: nicepay-webhook %s: %s\n", cli_progname, actions[action], err);
		if (hint != NULL)
			fprintf(stderr, "%s: %s\n", cli_progname, hint);
		goto out;
	}
	urls = reply_urls(reply.json);
	if (urls == NULL)
		goto out;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(urls, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	else {
		if (action != NPW_LIST)
			printf("%s %s: done\n", actions[action], method);
		print_table(urls);
	}
	status = 0;
out:
	if (window != NULL) {
		cli_exec_ok(window, "SELECT payhook.nicepay_close_registration_window()",
		    "closing the registration window");
		PQfinish(window);
	}
	json_object_put(urls);
	json_object_put(body);
	ph_api_reply_free(&reply);
	ph_api_free(api);
	ph_config_free(cfg);
	return status;
}
