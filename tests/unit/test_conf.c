#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

static char dir[] = "/tmp/payhook-conf-XXXXXX";

static const char *
write_conf(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, 0640);
	return path;
}

static enum ph_err
load_err(const char *text, char *err, size_t errlen)
{
	struct ph_config *cfg = ph_config_load(write_conf("bad.conf", text), true, err, errlen);

	if (cfg == NULL)
		return PH_ECONFIG;
	ph_config_free(cfg);
	return PH_OK;
}

int
main(void)
{
	struct ph_config *cfg;
	const struct ph_config *c1, *c2;
	char err[PH_ERRLEN], path[300];
	const char *p;

	if (mkdtemp(dir) == NULL)
		return 1;
	unsetenv("PAYHOOK_DATABASE");
	unsetenv("PAYHOOK_MAX_BODY_BYTES");

	p = write_conf("a.conf",
	    "# payhook\n"
	    "database = host=/tmp dbname=shop   \n"
	    "\n"
	    "   max_body_bytes=2048\n"
	    "steppay_v1_token = s3cret # not a comment: values run to the end\n"
	    "allow_from = 127.0.0.1/32, ::1\n"
	    "require_least_privilege = yes\n");
	cfg = ph_config_load(p, true, err, sizeof err);
	ok(cfg != NULL, "a valid file loads");
	is_str(ph_config_get(cfg, PH_CONF_DATABASE), "host=/tmp dbname=shop",
	    "value keeps inner blanks and loses outer ones");
	is_int(cfg->max_body_bytes, 2048, "max_body_bytes parsed");
	ok(cfg->require_least_privilege, "boolean parsed");
	is_str(ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE), "UTC", "default applies");
	ok(ph_config_allowlist(cfg, PH_CONF_ALLOW_FROM_STEPPAY_V1) ==
	    &cfg->cidr[PH_CONF_ALLOW_FROM], "endpoint falls back to allow_from");
	ok(cfg->origin[PH_CONF_DATABASE] == PH_ORIGIN_FILE, "origin recorded");
	ph_config_free(cfg);

	setenv("PAYHOOK_DATABASE", "dbname=fromenv", 1);
	setenv("PAYHOOK_MAX_BODY_BYTES", "4096", 1);
	cfg = ph_config_load(p, true, err, sizeof err);
	is_str(ph_config_get(cfg, PH_CONF_DATABASE), "dbname=fromenv", "environment overrides file");
	is_int(cfg->max_body_bytes, 4096, "environment override is validated and parsed");
	ph_config_free(cfg);
	unsetenv("PAYHOOK_DATABASE");
	unsetenv("PAYHOOK_MAX_BODY_BYTES");

	snprintf(path, sizeof path, "%s/missing.conf", dir);
	cfg = ph_config_load(path, false, err, sizeof err);
	ok(cfg != NULL && !cfg->file_found, "a missing default file is fine");
	is_int(cfg != NULL ? cfg->max_body_bytes : 0, 1048576, "default max_body_bytes");
	ph_config_free(cfg);
	cfg = ph_config_load(path, true, err, sizeof err);
	ok(cfg == NULL, "a missing file named explicitly is an error");

	is_int(load_err("allow_fom = 1.2.3.4\n", err, sizeof err), PH_ECONFIG, "unknown key refused");
	ok(strstr(err, "unknown key 'allow_fom'") != NULL, "error names the key");
	ok(strstr(err, ":1:") != NULL, "error names the line");
	is_int(load_err("database\n", err, sizeof err), PH_ECONFIG, "line without = refused");
	is_int(load_err("max_body_bytes = 0\n", err, sizeof err), PH_ECONFIG, "zero size refused");
	is_int(load_err("max_body_bytes = 10k\n", err, sizeof err), PH_ECONFIG, "non-number refused");
	is_int(load_err("max_body_bytes = 67108864\n", err, sizeof err), PH_OK, "size at the cap");
	is_int(load_err("max_body_bytes = 67108865\n", err, sizeof err), PH_ECONFIG,
	    "size one past the cap refused");
	is_int(load_err("require_least_privilege = maybe\n", err, sizeof err), PH_ECONFIG,
	    "bad boolean refused");
	is_int(load_err("allow_from = 10.0.0.0/33\n", err, sizeof err), PH_ECONFIG, "bad CIDR refused");
	is_int(load_err("database = a\ndatabase = b\n", err, sizeof err), PH_ECONFIG,
	    "a key twice refused");

	/* A file every user can read must not hold secrets. */
	p = write_conf("open.conf", "steppay_v2_secret = whsec-open\nmax_body_bytes = 100\n");
	chmod(p, 0644);
	cfg = ph_config_load(p, true, err, sizeof err);
	ok(cfg == NULL, "a world-readable file with a secret is refused");
	ok(strstr(err, "steppay_v2_secret") != NULL && strstr(err, "0644") != NULL &&
	    strstr(err, "chmod") != NULL, "the error names the key, the mode and the fix");
	ok(strstr(err, "whsec-open") == NULL, "but not the secret");
	ph_config_free(cfg);
	chmod(p, 0640);
	cfg = ph_config_load(p, true, err, sizeof err);
	ok(cfg != NULL, "the same file at 0640 loads");
	ph_config_free(cfg);
	p = write_conf("open.conf", "max_body_bytes = 100\nallow_from = 127.0.0.1\n");
	chmod(p, 0644);
	cfg = ph_config_load(p, true, err, sizeof err);
	ok(cfg != NULL, "a world-readable file without secrets loads");
	ph_config_free(cfg);
	chmod(p, 0646);
	cfg = ph_config_load(p, true, err, sizeof err);
	ok(cfg == NULL && strstr(err, "writable by every user") != NULL,
	    "a world-writable file is refused, secrets or not");
	ph_config_free(cfg);
	chmod(p, 0644);
	setenv("PAYHOOK_NICEPAY_SECRET_KEY", "from-env", 1);
	cfg = ph_config_load(p, true, err, sizeof err);
	ok(cfg != NULL, "secrets from the environment do not make the file's mode matter");
	ph_config_free(cfg);
	unsetenv("PAYHOOK_NICEPAY_SECRET_KEY");

	/* The cache parses once and notices edits. */
	p = write_conf("c.conf", "max_body_bytes = 100\n");
	c1 = ph_config_cached(p, err, sizeof err);
	c2 = ph_config_cached(p, err, sizeof err);
	ok(c1 != NULL && c1 == c2, "cached config reused");
	sleep(1);
	write_conf("c.conf", "max_body_bytes = 200\n");
	c2 = ph_config_cached(p, err, sizeof err);
	is_int(c2 != NULL ? c2->max_body_bytes : 0, 200, "edited file is read again");

	/* The same grammar from memory, without the file or the environment
	 * (what the fuzz target drives). */
	setenv("PAYHOOK_MAX_BODY_BYTES", "7", 1);
	cfg = ph_config_parse("mem", "max_body_bytes = 300\nallow_from = 10.0.0.0/8\n",
	    strlen("max_body_bytes = 300\nallow_from = 10.0.0.0/8\n"), err, sizeof err);
	is_int(cfg != NULL ? cfg->max_body_bytes : 0, 300,
	    "parse from memory: file value, environment ignored");
	is_int(cfg != NULL ? cfg->cidr[PH_CONF_ALLOW_FROM].n : 0, 1,
	    "parse from memory: typed values validated");
	is_str(cfg != NULL ? ph_config_get(cfg, PH_CONF_PROVIDER_TIMEZONE) : NULL, "UTC",
	    "parse from memory: defaults applied");
	ph_config_free(cfg);
	unsetenv("PAYHOOK_MAX_BODY_BYTES");
	cfg = ph_config_parse("mem", "max_body_bytes = 1\0\n", 19, err, sizeof err);
	ok(cfg == NULL && strstr(err, "NUL") != NULL, "parse from memory: a NUL byte is refused");
	ph_config_free(cfg);
	cfg = ph_config_parse("mem", "max_body_bytes = 300", 14, err, sizeof err);
	ok(cfg == NULL && strstr(err, "mem:1:") != NULL,
	    "parse from memory: reads only len bytes (no '=' in them)");
	ph_config_free(cfg);
	cfg = ph_config_parse("mem", "bogus = 1\n", 10, err, sizeof err);
	ok(cfg == NULL && strstr(err, "mem:1: unknown key 'bogus'") != NULL,
	    "parse from memory: errors name the source and line");
	ph_config_free(cfg);

	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return done_testing();
}
