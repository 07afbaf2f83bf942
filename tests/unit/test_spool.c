/* The spool file format (encode, decode, every way a file can be broken)
 * and the directory operations on a real temporary directory. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "tap.h"

static void
sample(struct ph_spool_record *r, const char *body, size_t len)
{
	memset(r, 0, sizeof *r);
	strcpy(r->endpoint, "steppay-v2");
	strcpy(r->received_at, "2026-03-20T00:00:00.123456Z");
	r->received_unix = 1773964800;
	strcpy(r->remote_addr, "203.0.113.7");
	strcpy(r->media_type, "application/json");
	r->signature_valid = PH_TRUE;
	strcpy(r->timezone, "Asia/Seoul");
	r->nheaders = 1;
	strcpy(r->header[0].name, "Steppay-Signature");
	strcpy(r->header[0].value, "timestamp=1,key=abc%\n\x01z");
	r->body = body;
	r->body_len = len;
}

/* Encodes r and decodes it again; 1 when every field came back. */
static int
round_trip(const struct ph_spool_record *r)
{
	struct ph_spool_record back;
	char err[PH_ERRLEN] = "", *buf = NULL;
	size_t len = 0;
	int same;

	if (ph_spool_encode(r, &buf, &len, err, sizeof err) != PH_OK) {
		printf("# encode: %s\n", err);
		return 0;
	}
	if (ph_spool_decode(buf, len, &back, err, sizeof err) != PH_OK) {
		printf("# decode: %s\n", err);
		free(buf);
		return 0;
	}
	same = strcmp(back.endpoint, r->endpoint) == 0 &&
	    strcmp(back.received_at, r->received_at) == 0 &&
	    back.received_unix == r->received_unix &&
	    strcmp(back.remote_addr, r->remote_addr) == 0 &&
	    strcmp(back.media_type, r->media_type) == 0 &&
	    back.signature_valid == r->signature_valid &&
	    strcmp(back.timezone, r->timezone) == 0 &&
	    back.nheaders == r->nheaders &&
	    back.body_len == r->body_len &&
	    (r->body_len == 0 || memcmp(back.body, r->body, r->body_len) == 0);
	for (int i = 0; same && i < r->nheaders; i++)
		same = strcmp(back.header[i].name, r->header[i].name) == 0 &&
		    strcmp(back.header[i].value, r->header[i].value) == 0;
	free(buf);
	return same;
}

/* Encodes sample(), applies edit to the text, expects decode to refuse. */
static void
refused(const char *name, const char *from, const char *to)
{
	struct ph_spool_record r, back;
	char err[PH_ERRLEN] = "", *buf = NULL, *at, *edited;
	size_t len = 0, elen;

	sample(&r, "{\"a\":1}", 7);
	ph_spool_encode(&r, &buf, &len, err, sizeof err);
	at = strstr(buf, from);
	if (at == NULL) {
		ok(0, name);
		free(buf);
		return;
	}
	elen = len - strlen(from) + strlen(to);
	edited = malloc(elen + 1);
	memcpy(edited, buf, (size_t)(at - buf));
	memcpy(edited + (at - buf), to, strlen(to));
	memcpy(edited + (at - buf) + strlen(to), at + strlen(from),
	    len - (size_t)(at - buf) - strlen(from) + 1);
	ok(ph_spool_decode(edited, elen, &back, err, sizeof err) == PH_EBADREQ && err[0] != '\0',
	    name);
	free(edited);
	free(buf);
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
main(void)
{
	static const char binary[] = "a\0b\n\r\n%00\xff";
	struct ph_spool_record r, back;
	char err[PH_ERRLEN], dir[] = "/tmp/payhook-spool-unit.XXXXXX";
	char name[PH_SPOOL_NAME_MAX], n1[PH_SPOOL_NAME_MAX], n2[PH_SPOOL_NAME_MAX];
	char names[4][PH_SPOOL_NAME_MAX], path[512], *buf;
	size_t len, total;
	struct ph_spool_summary sum;
	const char *gone[2];
	struct stat st;
	int fd;

	/* ---- format ---- */
	sample(&r, "{\"a\":1}", 7);
	ok(round_trip(&r), "round trip: every field, escaped header value");
	sample(&r, binary, sizeof binary - 1);
	ok(round_trip(&r), "round trip: body with NUL, CR, LF, '%' and a non-UTF-8 byte");
	sample(&r, NULL, 0);
	r.signature_valid = PH_NULL;
	r.nheaders = 0;
	r.remote_addr[0] = r.media_type[0] = '\0';
	ok(round_trip(&r), "round trip: empty body, no address, no type, signature null");
	sample(&r, "x", 1);
	r.signature_valid = PH_FALSE;
	ok(round_trip(&r), "round trip: signature false");

	sample(&r, "x", 1);
	r.nheaders = PH_SPOOL_HEADERS_MAX + 1;
	buf = NULL;
	ok(ph_spool_encode(&r, &buf, &len, err, sizeof err) == PH_EBADREQ && buf == NULL,
	    "encode refuses too many headers");

	refused("decode refuses another version", "payhook-spool 1", "payhook-spool 2");
	refused("decode refuses an unknown field", "timezone:", "timezonx:");
	refused("decode refuses a field twice", "endpoint: steppay-v2\n",
	    "endpoint: steppay-v2\nendpoint: nicepay\n");
	refused("decode refuses a missing field", "media-type: application/json\n", "");
	refused("decode refuses a body longer than said", "{\"a\":1}", "{\"a\":12}");
	refused("decode refuses a body shorter than said", "{\"a\":1}", "{\"a\"}");
	refused("decode refuses a body that fails its SHA-256", "{\"a\":1}", "{\"a\":2}");
	refused("decode refuses a bad escape", "Asia/Seoul", "Asia%zzSeoul");
	refused("decode refuses an escaped NUL", "Asia/Seoul", "Asia%00Seoul");
	refused("decode refuses a bad signature-valid", "signature-valid: true", "signature-valid: yes");
	refused("decode refuses a line without ': '", "timezone: ", "timezone:");
	refused("decode refuses a header without the blank line", "\n\n{", "\n{");
	ok(ph_spool_decode("", 0, &back, err, sizeof err) == PH_EBADREQ, "decode refuses nothing");
	ok(ph_spool_decode("garbage\n", 8, &back, err, sizeof err) == PH_EBADREQ,
	    "decode refuses garbage");

	/* ---- names ---- */
	ph_spool_name(1000000, n1);
	ph_spool_name(999999999, n2);
	ok(strlen(n1) == strlen(n2) && strcmp(n1, n2) < 0, "names sort by received time");
	ph_spool_name(1000000, n2);
	ok(strcmp(n1, n2) < 0, "same microsecond: the counter orders them");

	/* ---- directory ---- */
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof path, "%s/spool", dir);
	ok(!ph_spool_pending(path), "a missing spool_dir has nothing pending");
	ok(ph_spool_oldest(path, names, 4, &total, err, sizeof err) == 0 && total == 0,
	    "a missing spool_dir lists nothing");
	ok(ph_spool_summarize(path, &sum, err, sizeof err) == PH_OK && sum.waiting == 0 &&
	    sum.oldest_us == 0 && sum.failed == 0, "a missing spool_dir sums to nothing");
	sample(&r, "{\"a\":1}", 7);
	ok(ph_spool_write(path, &r, 2000000, name, err, sizeof err) == PH_OK,
	    "write creates spool_dir and the file");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "spool_dir created 0700");
	snprintf(path, sizeof path, "%s/spool/%s", dir, name);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "file created 0600");
	snprintf(path, sizeof path, "%s/spool", dir);
	ok(count_entries(path) == 1, "no temporary file left behind");
	ok(ph_spool_pending(path), "pending");
	ok(ph_spool_write(path, &r, 1000000, n1, err, sizeof err) == PH_OK &&
	    ph_spool_write(path, &r, 3000000, n2, err, sizeof err) == PH_OK, "two more");
	ok(ph_spool_oldest(path, names, 2, &total, err, sizeof err) == 2 && total == 3 &&
	    strcmp(names[0], n1) == 0 && strcmp(names[1], name) == 0,
	    "oldest: the two smallest of three, in order");
	ok(ph_spool_read(path, name, &buf, &len, err, sizeof err) == PH_OK &&
	    ph_spool_decode(buf, len, &back, err, sizeof err) == PH_OK &&
	    strcmp(back.endpoint, "steppay-v2") == 0, "read and decode a written file");
	free(buf);

	fd = ph_spool_lock(path, err, sizeof err);
	ok(fd >= 0, "lock taken");
	ok(ph_spool_lock(path, err, sizeof err) == -1, "lock busy for a second taker");
	ph_spool_unlock(fd);
	fd = ph_spool_lock(path, err, sizeof err);
	ok(fd >= 0, "lock free again after unlock");
	ph_spool_unlock(fd);

	ok(ph_spool_set_aside(path, n1, "bad\nthing", err, sizeof err) == PH_OK,
	    "set aside");
	ok(ph_spool_failed_count(path, err, sizeof err) == 1, "one failed file counted");
	ok(ph_spool_summarize(path, &sum, err, sizeof err) == PH_OK && sum.waiting == 2 &&
	    sum.oldest_us == 2000000 && sum.failed == 1 && sum.stale_tmp == 0,
	    "summary: two waiting, the oldest received at 2 s, one set aside");
	snprintf(path, sizeof path, "%s/spool/failed/%s.error", dir, n1);
	ok(stat(path, &st) == 0 && st.st_size > 0, "its reason is beside it");
	snprintf(path, sizeof path, "%s/spool", dir);
	gone[0] = name;
	gone[1] = n2;
	ok(ph_spool_remove_many(path, gone, 2, err, sizeof err) == PH_OK, "remove");
	ok(!ph_spool_pending(path), "nothing pending once removed and set aside");

	snprintf(path, sizeof path, "%s/file", dir);
	fd = creat(path, 0600);
	close(fd);
	snprintf(path, sizeof path, "%s/file/spool", dir);
	ok(ph_spool_write(path, &r, 1, name, err, sizeof err) == PH_EIO && err[0] != '\0',
	    "write under a file fails with a reason");

	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
