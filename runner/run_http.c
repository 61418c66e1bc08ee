/* run_http.c -- the http provider through libcurl: {type: http, url, method?, headers?,
 * arguments?, timeout?, verify_tls?, max_retries?}
 *
 * As CTK (requests): GET puts arguments in the query string; other methods send them as JSON
 * when headers["Content-Type"] is exactly application/json, form-encoded otherwise.  timeout is a
 * number or [connect, read]: connect bounds the connection, read bounds any silence after it
 * (requests' read timeout); none means wait forever.  Redirects are followed.  max_retries
 * retries connection failures.  Any status is a success; the body is parsed only when the
 * response's Content-Type is exactly application/json.  Output: {status, headers, body}.
 * The transfer runs under curl_multi so a signal stops it at once.
 */
#include "run.h"

#include <curl/curl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct xfer {
	struct strbuf body;
	cJSON *headers; /* of the last response */
	double last_activity;
	curl_off_t last_dl, last_ul;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	strbuf_add(&x->body, ptr, size * nmemb);
	x->last_activity = run_now();
	return x->body.oom ? 0 : size * nmemb;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	x->last_activity = run_now();
	if (n >= 5 && !strncmp(ptr, "HTTP/", 5)) {
		/* a new response (redirect, 100-continue): keep only the last one's headers */
		cJSON_Delete(x->headers);
		x->headers = cJSON_CreateObject();
		return n;
	}
	const char *colon = memchr(ptr, ':', n);
	if (!colon || !x->headers)
		return n;
	char name[256];
	size_t nl = (size_t)(colon - ptr);
	if (nl == 0 || nl >= sizeof(name))
		return n;
	memcpy(name, ptr, nl);
	name[nl] = '\0';
	const char *v = colon + 1, *end = ptr + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	char *val = strndup(v, (size_t)(end - v));
	if (!val)
		return 0;
	char *txt = rj_text_from_bytes(val, strlen(val));
	free(val);
	/* repeated headers are joined with ", " (requests' CaseInsensitiveDict) */
	for (cJSON *h = x->headers->child; h; h = h->next) {
		if (!strcasecmp(h->string, name)) {
			size_t l = strlen(h->valuestring) + strlen(txt) + 3;
			char *j = malloc(l);
			if (j) {
				snprintf(j, l, "%s, %s", h->valuestring, txt);
				cJSON_SetValuestring(h, j);
				free(j);
			}
			free(txt);
			return n;
		}
	}
	cJSON_AddStringToObject(x->headers, name, txt ? txt : "");
	free(txt);
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal;
	(void)ultotal;
	struct xfer *x = arg;
	if (dlnow != x->last_dl || ulnow != x->last_ul) {
		x->last_dl = dlnow;
		x->last_ul = ulnow;
		x->last_activity = run_now();
	}
	return 0;
}

/* requests' _encode_params: scalars str()'d, lists repeat the key, None dropped, quote_plus. */
static void form_encode(CURL *c, const cJSON *args, struct strbuf *out)
{
	for (const cJSON *a = args->child; a; a = a->next) {
		const cJSON *vals = a;
		cJSON *one = NULL;
		if (!cJSON_IsArray(a)) {
			one = cJSON_CreateArray();
			cJSON_AddItemToArray(one, cJSON_Duplicate(a, true));
			vals = one;
		}
		for (const cJSON *v = vals->child; v; v = v->next) {
			if (cJSON_IsNull(v))
				continue;
			char *s = rj_pystr(v);
			char *k = curl_easy_escape(c, a->string, 0);
			char *e = curl_easy_escape(c, s ? s : "", 0);
			if (out->n)
				strbuf_add(out, "&", 1);
			/* curl escapes a space as %20; quote_plus writes '+' */
			for (char *p = k; p && *p; p++) {
				if (!strncmp(p, "%20", 3)) {
					strbuf_add(out, "+", 1);
					p += 2;
				} else
					strbuf_add(out, p, 1);
			}
			strbuf_add(out, "=", 1);
			for (char *p = e; p && *p; p++) {
				if (!strncmp(p, "%20", 3)) {
					strbuf_add(out, "+", 1);
					p += 2;
				} else
					strbuf_add(out, p, 1);
			}
			curl_free(k);
			curl_free(e);
			free(s);
		}
		cJSON_Delete(one);
	}
}

static bool num(const cJSON *x, double *out)
{
	if (cJSON_IsNumber(x)) {
		*out = x->valuedouble;
		return true;
	}
	if (cJSON_IsString(x)) {
		char *end;
		double d = strtod(x->valuestring, &end);
		if (end != x->valuestring && !*end) {
			*out = d;
			return true;
		}
	}
	return false;
}

/* One attempt.  Returns the curl code; *timed_out and *interrupted tell why it stopped. */
static CURLcode perform(CURL *c, struct xfer *x, double read_timeout, unsigned gen,
			bool *interrupted, bool *timed_out)
{
	CURLM *m = curl_multi_init();
	if (!m)
		return CURLE_OUT_OF_MEMORY;
	curl_multi_add_handle(m, c);
	CURLcode result = CURLE_OK;
	x->last_activity = run_now();
	int running = 1;
	while (running) {
		CURLMcode mc = curl_multi_perform(m, &running);
		if (mc != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (run_signal_count() != gen) {
			*interrupted = true;
			break;
		}
		if (read_timeout >= 0) {
			curl_off_t connect_code = 0;
			curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_code);
			double idle = run_now() - x->last_activity;
			if (connect_code > 0 && idle > read_timeout) {
				*timed_out = true;
				break;
			}
		}
		struct pollfd pfd;
		int ms = 100;
		run_poll_stop(&pfd, &ms);
		struct curl_waitfd w = {.fd = pfd.fd, .events = CURL_WAIT_POLLIN};
		curl_multi_poll(m, pfd.fd >= 0 ? &w : NULL, pfd.fd >= 0 ? 1 : 0, ms, NULL);
	}
	if (!*interrupted && !*timed_out) {
		int left;
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE)
				result = msg->data.result;
	}
	curl_multi_remove_handle(m, c);
	curl_multi_cleanup(m);
	return result;
}

void run_http(const cJSON *prov, unsigned gen, struct run_result *res)
{
	memset(res, 0, sizeof(*res));
	const cJSON *urlj = rj_get(prov, "url");
	if (!cJSON_IsString(urlj) || !*urlj->valuestring) {
		res->fail = RUN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "a HTTP activity must have a URL");
		return;
	}
	const char *url = urlj->valuestring;
	const cJSON *mj = rj_get(prov, "method");
	char method[32] = "GET";
	if (cJSON_IsString(mj) && *mj->valuestring) {
		snprintf(method, sizeof(method), "%s", mj->valuestring);
		for (char *p = method; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
	}
	double connect_to = -1, read_to = -1;
	const cJSON *t = rj_get(prov, "timeout");
	if (cJSON_IsArray(t) && cJSON_GetArraySize(t) == 2) {
		if (!num(t->child, &connect_to) || !num(t->child->next, &read_to)) {
			res->fail = RUN_ERROR;
			snprintf(res->msg, sizeof(res->msg), "http timeout must be a number or "
							     "[connect, read]");
			return;
		}
	} else if (t && !cJSON_IsNull(t)) {
		if (!num(t, &connect_to)) {
			res->fail = RUN_ERROR;
			snprintf(res->msg, sizeof(res->msg), "http timeout must be a number or "
							     "[connect, read]");
			return;
		}
		read_to = connect_to;
	}
	const cJSON *vt = rj_get(prov, "verify_tls");
	bool verify = !vt || cJSON_IsNull(vt) || rj_truthy(vt);
	long retries = 0;
	const cJSON *mr = rj_get(prov, "max_retries");
	if (cJSON_IsNumber(mr) && mr->valuedouble > 0)
		retries = (long)mr->valuedouble;

	CURL *c = curl_easy_init();
	if (!c) {
		res->fail = RUN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "curl_easy_init failed");
		return;
	}
	struct curl_slist *hdrs = NULL;
	const cJSON *headers = rj_get(prov, "headers");
	bool json_body = false;
	if (cJSON_IsObject(headers))
		for (const cJSON *h = headers->child; h; h = h->next) {
			char *v = rj_pystr(h);
			size_t l = strlen(h->string) + strlen(v ? v : "") + 3;
			char *line = malloc(l);
			if (line) {
				/* "X:" without a value would remove a header; "X;" sends it empty */
				if (v && *v)
					snprintf(line, l, "%s: %s", h->string, v);
				else
					snprintf(line, l, "%s;", h->string);
				hdrs = curl_slist_append(hdrs, line);
			}
			if (!strcmp(h->string, "Content-Type") && v &&
			    !strcmp(v, "application/json"))
				json_body = true;
			free(line);
			free(v);
		}
	/* requests sends no Expect: 100-continue */
	hdrs = curl_slist_append(hdrs, "Expect:");

	struct strbuf full_url = {0}, body = {0};
	const cJSON *args = rj_get(prov, "arguments");
	bool has_args = args && !cJSON_IsNull(args) &&
			!((cJSON_IsObject(args) || cJSON_IsArray(args)) && !args->child);
	strbuf_add(&full_url, url, strlen(url));
	bool send_body = false;
	if (!strcmp(method, "GET")) {
		if (has_args && cJSON_IsObject(args)) {
			struct strbuf q = {0};
			form_encode(c, args, &q);
			if (q.n) {
				char *frag = strchr(full_url.p, '#');
				if (frag)
					*frag = '\0', full_url.n = strlen(full_url.p);
				strbuf_add(&full_url, strchr(full_url.p, '?') ? "&" : "?", 1);
				strbuf_add(&full_url, q.p, q.n);
			}
			free(q.p);
		}
	} else if (has_args) {
		send_body = true;
		if (json_body) {
			char *j = rj_print(args, -1);
			strbuf_add(&body, j ? j : "null", strlen(j ? j : "null"));
			free(j);
		} else if (cJSON_IsObject(args)) {
			form_encode(c, args, &body);
			hdrs = curl_slist_append(hdrs,
						 "Content-Type: application/x-www-form-urlencoded");
		} else if (cJSON_IsString(args)) {
			strbuf_add(&body, args->valuestring, strlen(args->valuestring));
		} else {
			char *j = rj_print(args, -1);
			strbuf_add(&body, j ? j : "", strlen(j ? j : ""));
			free(j);
		}
	}

	struct xfer x = {0};
	curl_easy_setopt(c, CURLOPT_URL, full_url.p);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 30L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chaos-run/" RUN_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (connect_to >= 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
				 connect_to * 1000 < 1 ? 1L : (long)ceil(connect_to * 1000));
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST") || send_body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.p ? body.p : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.n);
		if (strcmp(method, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

	CURLcode rc = CURLE_OK;
	bool interrupted = false, timed_out = false;
	for (long attempt = 0; attempt <= retries; attempt++) {
		free(x.body.p);
		memset(&x.body, 0, sizeof(x.body));
		cJSON_Delete(x.headers);
		x.headers = NULL;
		rc = perform(c, &x, read_to, gen, &interrupted, &timed_out);
		if (interrupted || timed_out)
			break;
		bool connect_fail = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
				    rc == CURLE_COULDNT_RESOLVE_PROXY ||
				    (rc == CURLE_OPERATION_TIMEDOUT);
		if (!connect_fail)
			break;
	}

	if (interrupted) {
		res->fail = RUN_INTERRUPTED;
		const char *sig = sigabbrev_np(run_signal_first());
		snprintf(res->msg, sizeof(res->msg), "interrupted by SIG%s during %s %s",
			 sig ? sig : "?", method, url);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		/* requests: ConnectTimeout is a ConnectionError first */
		res->fail = RUN_FAILED;
		res->timed_out = true;
		res->curl = rc;
		snprintf(res->msg, sizeof(res->msg), "failed to connect to %s: connection timed out",
			 url);
	} else if (timed_out) {
		res->fail = RUN_FAILED;
		res->timed_out = true;
		res->curl = CURLE_OPERATION_TIMEDOUT;
		snprintf(res->msg, sizeof(res->msg), "activity took too long to complete");
	} else if (rc == CURLE_WRITE_ERROR && x.body.oom) {
		res->fail = RUN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "out of memory reading the response");
	} else if (rc != CURLE_OK) {
		res->fail = RUN_FAILED;
		res->curl = rc;
		snprintf(res->msg, sizeof(res->msg), "failed to connect to %s: %s", url,
			 curl_easy_strerror(rc));
	} else {
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		cJSON *out = cJSON_CreateObject();
		cJSON_AddNumberToObject(out, "status", (double)status);
		cJSON_AddItemToObject(out, "headers",
				      x.headers ? x.headers : cJSON_CreateObject());
		x.headers = NULL;
		const cJSON *ct = NULL;
		for (const cJSON *h = rj_get(out, "headers")->child; h; h = h->next)
			if (!strcasecmp(h->string, "Content-Type"))
				ct = h;
		cJSON *bodyj = NULL;
		if (ct && !strcmp(ct->valuestring, "application/json")) {
			bodyj = cJSON_ParseWithLength(x.body.p ? x.body.p : "", x.body.n);
			if (!bodyj) {
				res->fail = RUN_FAILED;
				snprintf(res->msg, sizeof(res->msg),
					 "the response of %s is application/json but its body is not "
					 "valid JSON",
					 url);
				cJSON_Delete(out);
				out = NULL;
			}
		} else {
			char *txt = rj_text_from_bytes(x.body.p ? x.body.p : "", x.body.n);
			bodyj = cJSON_CreateString(txt ? txt : "");
			free(txt);
		}
		if (out) {
			cJSON_AddItemToObject(out, "body", bodyj);
			res->output = out;
		}
	}
	cJSON_Delete(x.headers);
	free(x.body.p);
	free(full_url.p);
	free(body.p);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}
