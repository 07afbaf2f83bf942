#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "util.h"

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{200, "OK"}, {400, "Bad Request"}, {401, "Unauthorized"},
	{403, "Forbidden"}, {405, "Method Not Allowed"}, {413, "Content Too Large"},
	{415, "Unsupported Media Type"}, {500, "Internal Server Error"},
	{503, "Service Unavailable"},
};

static const char *
reason_phrase(int status)
{
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

void
ph_request_begin(struct ph_request *req, FCGX_Request *fcgx, char **envp)
{
	const char *v;

	req->fcgx = fcgx;
	req->envp = envp;
	req->body_len = 0;
	req->media = -1;
	req->replied = false;
	req->method = ph_request_param(req, "REQUEST_METHOD");
	req->content_type = ph_request_param(req, "CONTENT_TYPE");
	v = ph_request_param(req, "QUERY_STRING");
	req->query = v != NULL ? v : "";
	v = ph_request_param(req, "REMOTE_ADDR");
	ph_strlcpy(req->remote_addr, v != NULL ? v : "", sizeof req->remote_addr);
}

void
ph_request_free(struct ph_request *req)
{
	free(req->body);
	req->body = NULL;
	req->body_cap = 0;
}

const char *
ph_request_param(const struct ph_request *req, const char *name)
{
	size_t n = strlen(name);
	char **p;

	if (req->envp == NULL)
		return NULL;
	for (p = req->envp; *p != NULL; p++)
		if (ph_ascii_ieq(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

const char *
ph_request_header(const struct ph_request *req, const char *name)
{
	char param[PH_HEADER_NAME_MAX + 6] = "HTTP_";
	size_t i, n = strlen(name);

	if (n > PH_HEADER_NAME_MAX)
		return NULL;
	for (i = 0; i < n; i++)
		param[5 + i] = name[i] == '-' ? '_' : name[i];
	param[5 + n] = '\0';
	return ph_request_param(req, param);
}

void
ph_client_address(const char *peer, const char *xff,
    const struct ph_cidr_list *trusted, char *out, size_t outlen)
{
	char from[PH_ADDR_MAX];
	const char *end;
	int hops;

	/* peer and out may be the same buffer. */
	ph_strlcpy(from, peer, sizeof from);
	ph_strlcpy(out, from, outlen);
	if (xff == NULL || trusted == NULL || trusted->n == 0 ||
	    !ph_cidr_list_match(trusted, from))
		return;
	/* Walk from the right: each hop was added by the proxy before it.
	 * The first address that is not a trusted proxy is the client. */
	end = xff + strlen(xff);
	for (hops = 0; hops < PH_XFF_MAX_HOPS && end > xff; hops++) {
		const char *start = end;
		char addr[PH_ADDR_MAX];
		size_t len;

		while (start > xff && start[-1] != ',')
			start--;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		len = (size_t)(end - start);
		while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
			len--;
		if (len >= sizeof addr) {
			ph_strlcpy(out, PH_ADDR_UNKNOWN, outlen);
			return;
		}
		memcpy(addr, start, len);
		addr[len] = '\0';
		/* A hop that is no address was not written by a proxy of
		 * ours: the client is unknown (and matches no allowlist). */
		if (!ph_ip_address_valid(addr)) {
			ph_strlcpy(out, PH_ADDR_UNKNOWN, outlen);
			return;
		}
		ph_strlcpy(out, addr, outlen);
		if (!ph_cidr_list_match(trusted, addr))
			return;
		end = start;
		while (end > xff && end[-1] != ',')
			end--;
		if (end > xff)
			end--; /* step over the comma */
	}
}

/* Matches a Content-Type against the accepted media types: the type is
 * compared without regard to case, parameters (charset=...) are ignored. */
static int
match_media(const char *ct, const char *const *types)
{
	size_t len;
	int i;

	if (ct == NULL)
		return -1;
	while (*ct == ' ')
		ct++;
	len = strcspn(ct, "; \t");
	for (i = 0; types[i] != NULL; i++)
		if (strlen(types[i]) == len && ph_ascii_ieq(ct, types[i], len))
			return i;
	return -1;
}

static size_t
read_stream(struct ph_request *req, char *buf, size_t n)
{
	size_t got = 0;

	if (req->fcgx != NULL) {
		while (got < n) {
			size_t chunk = n - got > (1u << 30) ? (1u << 30) : n - got;
			int r = FCGX_GetStr(buf + got, (int)chunk, req->fcgx->in);

			if (r <= 0)
				break;
			got += (size_t)r;
		}
		return got;
	}
	while (got < n) {
		size_t r = fread(buf + got, 1, n - got, stdin);

		if (r == 0)
			break;
		got += r;
	}
	return got;
}

enum ph_err
ph_request_check(struct ph_request *req, const struct ph_config *cfg,
    const struct ph_policy *policy, char *err, size_t errlen)
{
	const struct ph_cidr_list *allow;
	const char *cl;
	uint64_t len = 0;
	size_t got;

	if (req->method == NULL || strcmp(req->method, "POST") != 0)
		return ph_fail(err, errlen, PH_EMETHOD, "method %.16s not allowed",
		    req->method != NULL ? req->method : "(none)");

	ph_client_address(req->remote_addr, ph_request_header(req, "X-Forwarded-For"),
	    &cfg->cidr[PH_CONF_TRUSTED_PROXY], req->remote_addr, sizeof req->remote_addr);
	allow = ph_config_allowlist(cfg, policy->allow_key);
	if (allow != NULL && !ph_cidr_list_match(allow, req->remote_addr))
		return ph_fail(err, errlen, PH_EFORBIDDEN, "address %s not in %s",
		    req->remote_addr, ph_config_get(cfg, policy->allow_key) != NULL ?
		    ph_conf_defs[policy->allow_key].name : "allow_from");

	cl = ph_request_param(req, "CONTENT_LENGTH");
	/* CGI: no CONTENT_LENGTH means no body. */
	if (cl != NULL && *cl != '\0' && !ph_parse_u64(cl, UINT64_MAX, &len))
		return ph_fail(err, errlen, PH_EBADREQ, "invalid Content-Length");
	if (len > 0 || req->content_type != NULL) {
		req->media = match_media(req->content_type, policy->content_types);
		if (req->media < 0) {
			char shown[64];

			ph_sanitize(shown, sizeof shown, req->content_type != NULL ?
			    req->content_type : "(none)", req->content_type != NULL ?
			    strlen(req->content_type) : 6);
			return ph_fail(err, errlen, PH_ETYPE,
			    "content type %s not accepted", shown);
		}
	}
	if (len > cfg->max_body_bytes)
		return ph_fail(err, errlen, PH_ETOOBIG,
		    "body of %llu bytes over max_body_bytes %zu",
		    (unsigned long long)len, cfg->max_body_bytes);
	if (len == 0 && !policy->allow_empty_body)
		return ph_fail(err, errlen, PH_EBADREQ, "empty body");

	if (req->body_cap < (size_t)len + 1) {
		char *nb = realloc(req->body, (size_t)len + 1);

		if (nb == NULL)
			return ph_fail(err, errlen, PH_ENOMEM, "out of memory for the body");
		req->body = nb;
		req->body_cap = (size_t)len + 1;
	}
	got = read_stream(req, req->body, (size_t)len);
	req->body[got] = '\0';
	req->body_len = got;
	if (got < len)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "body shorter than Content-Length (%zu of %llu bytes)",
		    got, (unsigned long long)len);
	return PH_OK;
}

void
ph_request_reply(struct ph_request *req, int status, const char *content_type,
    const char *extra_header, const char *body)
{
	char head[512];
	int n;

	if (req->replied)
		return;
	req->replied = true;
	n = snprintf(head, sizeof head, "Status: %d %s\r\nContent-Type: %s\r\n%s%s"
	    "Content-Length: %zu\r\n\r\n", status, reason_phrase(status), content_type,
	    extra_header != NULL ? extra_header : "", extra_header != NULL ? "\r\n" : "",
	    strlen(body));
	if (n < 0 || (size_t)n >= sizeof head)
		n = 0;
	if (req->fcgx != NULL) {
		FCGX_PutStr(head, n, req->fcgx->out);
		FCGX_PutS(body, req->fcgx->out);
	} else {
		fwrite(head, 1, (size_t)n, stdout);
		fputs(body, stdout);
		fflush(stdout);
	}
}
