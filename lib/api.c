/* Outbound provider API calls on libcurl; see api.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "api.h"
#include "json.h"
#include "util.h"

#define PH_API_AUTH_MAX 1024   /* bytes of the authentication header line */

struct ph_api {
	enum ph_api_provider provider;
	char base[PH_API_URL_MAX];
	char auth[PH_API_AUTH_MAX];   /* secret: never printed */
	struct ph_api_opts opts;
	CURL *curl;
};

/* What one transfer collects. */
struct transfer {
	char *buf;
	size_t len, cap;
	bool too_big;
	long retry_after;   /* seconds, -1 when absent */
};

bool
ph_api_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void
ph_api_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *
ph_api_provider_name(enum ph_api_provider provider)
{
	return provider == PH_API_STEPPAY ? "StepPay" : "NicePay";
}

const char *
ph_api_result_name(enum ph_api_result r)
{
	switch (r) {
	case PH_API_OK: return "ok";
	case PH_API_NOT_FOUND: return "not-found";
	case PH_API_REFUSED: return "refused";
	case PH_API_UNAVAILABLE: return "unavailable";
	case PH_API_BAD_REPLY: return "bad-reply";
	case PH_API_CONFIG: return "config";
	}
	return "unknown";
}

static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* True for http://127.0.0.1, http://localhost and http://[::1] (with or
 * without a port): plain HTTP is for a local test server only. */
static bool
local_http(const char *url)
{
	static const char *const hosts[] = {"127.0.0.1", "localhost", "[::1]"};
	const char *h = url + strlen("http://");
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(hosts); i++) {
		size_t n = strlen(hosts[i]);

		if (strncmp(h, hosts[i], n) == 0 && (h[n] == '\0' || h[n] == ':' || h[n] == '/'))
			return true;
	}
	return false;
}

/* The first key of a comma-separated list, spaces trimmed, into out. */
static bool
first_key(const char *list, char *out, size_t outlen)
{
	const char *end;
	size_t n;

	while (*list == ' ' || *list == '\t')
		list++;
	end = strchr(list, ',');
	n = end != NULL ? (size_t)(end - list) : strlen(list);
	while (n > 0 && (list[n - 1] == ' ' || list[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, list, n);
	out[n] = '\0';
	return true;
}

struct ph_api *
ph_api_new(const struct ph_config *cfg, enum ph_api_provider provider,
    const struct ph_api_opts *opts, char *err, size_t errlen)
{
	const char *name = ph_api_provider_name(provider);
	const char *url, *key;
	char secret[PH_API_AUTH_MAX / 2], cred[PH_API_AUTH_MAX / 2];
	unsigned char b64[PH_API_AUTH_MAX];
	struct ph_api *api;
	size_t n;
	int len;

	if (provider == PH_API_STEPPAY) {
		url = ph_config_get(cfg, PH_CONF_STEPPAY_API_URL);
		key = ph_config_get(cfg, PH_CONF_STEPPAY_API_KEY);
		if (key == NULL) {
			seterr(err, errlen, "steppay_api_key is not set (the portal's "
			    "Secret-Token; put it in payhook.conf or PAYHOOK_STEPPAY_API_KEY)");
			return NULL;
		}
	} else {
		url = ph_config_get(cfg, PH_CONF_NICEPAY_API_URL);
		key = ph_config_get(cfg, PH_CONF_NICEPAY_CLIENT_KEY);
		if (key == NULL || ph_config_get(cfg, PH_CONF_NICEPAY_SECRET_KEY) == NULL) {
			seterr(err, errlen, "nicepay_client_key and nicepay_secret_key must both "
			    "be set for NicePay API calls");
			return NULL;
		}
	}
	if (url == NULL || (strncmp(url, "https://", 8) != 0 &&
	    !(strncmp(url, "http://", 7) == 0 && local_http(url)))) {
		seterr(err, errlen, "%s API URL must start with https:// (plain http only to "
		    "the local host)", name);
		return NULL;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n + PH_API_PATH_MAX >= PH_API_URL_MAX) {
		seterr(err, errlen, "%s API URL too long", name);
		return NULL;
	}
	api = calloc(1, sizeof *api);
	if (api == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	api->provider = provider;
	memcpy(api->base, url, n);
	api->base[n] = '\0';
	if (opts != NULL)
		api->opts = *opts;
	if (api->opts.connect_timeout <= 0)
		api->opts.connect_timeout = PH_API_CONNECT_TIMEOUT;
	if (api->opts.timeout <= 0)
		api->opts.timeout = PH_API_TIMEOUT;
	if (api->opts.attempts <= 0)
		api->opts.attempts = PH_API_ATTEMPTS;
	if (api->opts.attempts > PH_API_ATTEMPTS_MAX)
		api->opts.attempts = PH_API_ATTEMPTS_MAX;

	if (provider == PH_API_STEPPAY) {
		if ((size_t)snprintf(api->auth, sizeof api->auth, "Secret-Token: %s", key) >=
		    sizeof api->auth || strpbrk(key, "\r\n") != NULL) {
			seterr(err, errlen, "steppay_api_key is too long or holds a line break");
			goto fail;
		}
	} else {
		/* Basic base64(clientKey ":" first secret key). */
		if (!first_key(ph_config_get(cfg, PH_CONF_NICEPAY_SECRET_KEY), secret,
		    sizeof secret) ||
		    (size_t)snprintf(cred, sizeof cred, "%s:%s", key, secret) >= sizeof cred) {
			seterr(err, errlen, "nicepay_client_key or nicepay_secret_key is empty or too long");
			goto fail;
		}
		len = EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)strlen(cred));
		if (len <= 0 || (size_t)snprintf(api->auth, sizeof api->auth,
		    "Authorization: Basic %s", (const char *)b64) >= sizeof api->auth) {
			seterr(err, errlen, "NicePay credentials too long");
			goto fail;
		}
	}
	wipe(secret, sizeof secret);
	wipe(cred, sizeof cred);
	wipe(b64, sizeof b64);
	api->curl = curl_easy_init();
	if (api->curl == NULL) {
		seterr(err, errlen, "cannot initialise libcurl");
		goto fail;
	}
	return api;
fail:
	wipe(secret, sizeof secret);
	wipe(cred, sizeof cred);
	wipe(b64, sizeof b64);
	ph_api_free(api);
	return NULL;
}

void
ph_api_free(struct ph_api *api)
{
	if (api == NULL)
		return;
	if (api->curl != NULL)
		curl_easy_cleanup(api->curl);
	wipe(api->auth, sizeof api->auth);
	free(api);
}

void
ph_api_reply_free(struct ph_api_reply *reply)
{
	if (reply->json != NULL)
		json_object_put(reply->json);
	free(reply->body);
	memset(reply, 0, sizeof *reply);
}

bool
ph_api_path(char *buf, size_t buflen, const char *prefix, const char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(prefix), i;

	if (*id == '\0' || n >= buflen)
		return false;
	memcpy(buf, prefix, n);
	for (i = 0; id[i] != '\0'; i++) {
		unsigned char c = (unsigned char)id[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			if (n + 1 >= buflen)
				return false;
			buf[n++] = (char)c;
		} else {
			if (n + 3 >= buflen)
				return false;
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
	return true;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (n > PH_API_MAX_REPLY - t->len) {
		t->too_big = true;
		return 0;          /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap == 0 ? 4096 : t->cap;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		if ((p = realloc(t->buf, cap)) == NULL)
			return 0;
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

/* Notes Retry-After: N (seconds); an HTTP-date falls back to the backoff. */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
		char tmp[32];
		size_t m = n - (sizeof name - 1);
		char *end;
		long v;

		if (m >= sizeof tmp)
			m = sizeof tmp - 1;
		memcpy(tmp, data + sizeof name - 1, m);
		tmp[m] = '\0';
		errno = 0;
		v = strtol(tmp, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
			end++;
		if (errno == 0 && end != tmp && *end == '\0' && v >= 0)
			t->retry_after = v;
	}
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool
retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

/* A JSON member as text for messages (sanitized, cut), or NULL. */
static const char *
member_text(struct json_object *obj, const char *key, char *buf, size_t buflen)
{
	struct json_object *v;
	const char *s;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) || v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int))
		s = json_object_get_string(v);
	else
		return NULL;
	ph_sanitize(buf, buflen, s, strlen(s));
	return buf;
}

/* NicePay's answers for a transaction it does not have (providers'
 * notes, 5.2): no transaction, nothing found, no such order, no data. */
static bool
nicepay_not_found(const char *code)
{
	static const char *const codes[] = {"U107", "U111", "U126", "A118"};

	return ph_str_in(code, codes, PH_ARRAY_LEN(codes));
}

/* Decides what a complete HTTP answer means. */
static enum ph_api_result
classify(struct ph_api *api, const char *what, struct ph_api_reply *reply,
    char *err, size_t errlen)
{
	const char *name = ph_api_provider_name(api->provider);
	char perr[PH_ERRLEN], code[64], msg[160];
	const char *c = NULL, *m = NULL;
	bool is_2xx = reply->http_status >= 200 && reply->http_status < 300;

	if (reply->len > 0 && ph_json_parse(reply->body, reply->len, &reply->json, perr,
	    sizeof perr) != PH_OK)
		reply->json = NULL;
	if (reply->json != NULL) {
		if (api->provider == PH_API_NICEPAY) {
			c = member_text(reply->json, "resultCode", code, sizeof code);
			m = member_text(reply->json, "resultMsg", msg, sizeof msg);
		} else {
			c = member_text(reply->json, "errorCode", code, sizeof code);
			m = member_text(reply->json, "errorMessage", msg, sizeof msg);
		}
		if (c != NULL)
			ph_strlcpy(reply->result_code, c, sizeof reply->result_code);
	}
	if (is_2xx && reply->json == NULL) {
		seterr(err, errlen, "%s API %s: HTTP %ld but the reply is not a JSON object%s%s",
		    name, what, reply->http_status, reply->len == 0 ? " (empty)" : ": ",
		    reply->len == 0 ? "" : perr);
		return PH_API_BAD_REPLY;
	}
	if (is_2xx && (api->provider == PH_API_STEPPAY || (c != NULL && strcmp(c, "0000") == 0)))
		return PH_API_OK;
	if (api->provider == PH_API_NICEPAY && is_2xx && c == NULL) {
		seterr(err, errlen, "%s API %s: HTTP %ld, reply without resultCode", name, what,
		    reply->http_status);
		return PH_API_BAD_REPLY;
	}
	seterr(err, errlen, "%s API %s: HTTP %ld%s%s%s%s%s", name, what, reply->http_status,
	    c != NULL ? (api->provider == PH_API_NICEPAY ? ", resultCode " : ", errorCode ") : "",
	    c != NULL ? c : "", m != NULL ? " (" : "", m != NULL ? m : "", m != NULL ? ")" : "");
	if (reply->http_status == 404 ||
	    (api->provider == PH_API_NICEPAY && c != NULL && nicepay_not_found(c)))
		return PH_API_NOT_FOUND;
	return PH_API_REFUSED;
}

/* What every request sets: no signals, no redirects, only http(s), the
 * timeouts, headers, and the reply into t (capped) with curl's message in
 * cerr. */
static void
setup_transfer(CURL *c, const char *url, long connect_timeout, long timeout,
    struct curl_slist *hdrs, struct transfer *t, char *cerr)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
}

enum ph_api_result
ph_api_call(struct ph_api *api, const char *method, const char *path,
    const char *json_body, struct ph_api_reply *reply, char *err, size_t errlen)
{
	const char *name = ph_api_provider_name(api->provider);
	char url[PH_API_URL_MAX], what[PH_API_PATH_MAX + 16], cerr[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL, *h;
	struct transfer t;
	enum ph_api_result res = PH_API_UNAVAILABLE;
	long delay_ms = PH_API_BACKOFF_MS;
	CURL *c = api->curl;
	int attempt;

	memset(reply, 0, sizeof *reply);
	memset(&t, 0, sizeof t);
	snprintf(what, sizeof what, "%s %s", method, path);
	if (path[0] != '/' || strlen(path) >= PH_API_PATH_MAX ||
	    (size_t)snprintf(url, sizeof url, "%s%s", api->base, path) >= sizeof url) {
		seterr(err, errlen, "%s API %s: path too long", name, what);
		return PH_API_CONFIG;
	}
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (hdrs != NULL && (h = curl_slist_append(hdrs, api->auth)) != NULL)
		hdrs = h;
	else
		goto nomem;
	if (json_body != NULL) {
		if ((h = curl_slist_append(hdrs, "Content-Type: application/json;charset=utf-8")) == NULL)
			goto nomem;
		hdrs = h;
	}

	for (attempt = 1; attempt <= api->opts.attempts; attempt++) {
		CURLcode cc;
		bool again = false;

		curl_easy_reset(c);
		free(t.buf);
		memset(&t, 0, sizeof t);
		t.retry_after = -1;
		cerr[0] = '\0';
		reply->attempts = attempt;
		setup_transfer(c, url, api->opts.connect_timeout, api->opts.timeout, hdrs, &t, cerr);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)PH_API_MAX_REPLY);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (json_body != NULL) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
		} else if (strcmp(method, "GET") == 0) {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		}
		cc = curl_easy_perform(c);
		reply->http_status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->http_status);
		if (t.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			seterr(err, errlen, "%s API %s: reply over %u bytes", name, what,
			    PH_API_MAX_REPLY);
			res = PH_API_BAD_REPLY;
			break;
		}
		if (cc != CURLE_OK) {
			seterr(err, errlen, "%s API %s: %s (after %d attempt%s)", name, what,
			    cerr[0] != '\0' ? cerr : curl_easy_strerror(cc), attempt,
			    attempt == 1 ? "" : "s");
			res = retryable_curl(cc) ? PH_API_UNAVAILABLE : PH_API_REFUSED;
			again = retryable_curl(cc);
		} else if (reply->http_status == 429 || reply->http_status >= 500) {
			reply->body = t.buf;
			reply->len = t.len;
			(void)classify(api, what, reply, err, errlen);
			reply->body = NULL;
			if (reply->json != NULL) {
				json_object_put(reply->json);
				reply->json = NULL;
			}
			{
				size_t n = strlen(err);

				snprintf(err + n, errlen > n ? errlen - n : 0, "%s (after %d attempt%s)",
				    reply->http_status == 429 ? ", rate limited" : "", attempt,
				    attempt == 1 ? "" : "s");
			}
			res = PH_API_UNAVAILABLE;
			again = true;
			if (reply->http_status == 429 && t.retry_after >= 0)
				delay_ms = (t.retry_after > PH_API_RETRY_AFTER_MAX ?
				    PH_API_RETRY_AFTER_MAX : t.retry_after) * 1000L;
		} else {
			reply->body = t.buf != NULL ? t.buf : strdup("");
			reply->len = t.len;
			t.buf = NULL;
			if (reply->body == NULL)
				goto nomem;
			res = classify(api, what, reply, err, errlen);
			break;
		}
		if (!again || attempt == api->opts.attempts)
			break;
		sleep_ms(delay_ms);
		delay_ms *= 2;
	}
	free(t.buf);
	curl_slist_free_all(hdrs);
	/* The header list held the key; curl copies nothing we must wipe. */
	return res;
nomem:
	free(t.buf);
	curl_slist_free_all(hdrs);
	seterr(err, errlen, "%s API %s: out of memory", name, what);
	return PH_API_UNAVAILABLE;
}

enum ph_api_result
ph_api_probe(const char *url, const char *json_body, long timeout, long *http_status,
    char *reply, size_t replylen, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE];
	struct curl_slist *hdrs;
	struct transfer t;
	CURL *c;
	CURLcode cc;
	enum ph_api_result res = PH_API_OK;

	*http_status = 0;
	reply[0] = '\0';
	memset(&t, 0, sizeof t);
	t.retry_after = -1;
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		seterr(err, errlen, "URL must start with https:// or http://");
		return PH_API_CONFIG;
	}
	c = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Content-Type: application/json;charset=utf-8");
	if (c == NULL || hdrs == NULL) {
		curl_slist_free_all(hdrs);
		if (c != NULL)
			curl_easy_cleanup(c);
		seterr(err, errlen, "out of memory");
		return PH_API_UNAVAILABLE;
	}
	cerr[0] = '\0';
	setup_transfer(c, url, timeout < PH_API_CONNECT_TIMEOUT ? timeout :
	    (long)PH_API_CONNECT_TIMEOUT, timeout, hdrs, &t, cerr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http_status);
	if (t.too_big) {
		seterr(err, errlen, "reply over %u bytes", PH_API_MAX_REPLY);
		res = PH_API_BAD_REPLY;
	} else if (cc != CURLE_OK) {
		seterr(err, errlen, "%s", cerr[0] != '\0' ? cerr : curl_easy_strerror(cc));
		res = PH_API_UNAVAILABLE;
	} else {
		ph_sanitize(reply, replylen, t.buf != NULL ? t.buf : "", t.len);
	}
	free(t.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return res;
}
