// SPDX-License-Identifier: MIT
#include "coordinator-client/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"

/* One socket libcurl asked us to watch. */
struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct coordc_http *http;
	bool closing;
};

struct coordc_http_xfer {
	struct coordc_http *http;
	struct coordc_http_xfer *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *resp;
	size_t resp_len, resp_cap;
	bool too_big;
	coordc_http_done_fn done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

struct coordc_http {
	uv_loop_t *loop;
	uv_timer_t timer;
	CURLM *multi;
	struct coordc_http_xfer *xfers;
	unsigned n_xfers;
	char *ca_file, *pin;
	bool allow_http;
	uint32_t connect_timeout_ms;
	size_t max_response;
};

static void xfer_free(struct coordc_http_xfer *x)
{
	struct coordc_http *http = x->http;

	if (x->prev)
		x->prev->next = x->next;
	else
		http->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	http->n_xfers--;
	if (x->easy) {
		curl_multi_remove_handle(http->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->resp);
	free(x);
}

static int map_curl_error(CURLcode rc, bool too_big)
{
	if (too_big)
		return -EMSGSIZE;
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return -ECONNREFUSED;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return -EKEYREJECTED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_WEIRD_SERVER_REPLY:
		return -EPROTO;
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static void check_done(struct coordc_http *http)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(http->multi, &left))) {
		struct coordc_http_xfer *x = NULL;
		long status = 0;
		int result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&x);
		result = map_curl_error(msg->data.result, x->too_big);
		if (result == 0)
			curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
					  &status);
		else
			log_debug("coordc", "http: %s: %s",
				  curl_easy_strerror(msg->data.result),
				  x->errbuf);
		/* msg points into the handle: done with it before the call */
		x->done(result, status, result ? "" : x->resp,
			result ? 0 : x->resp_len, x->arg);
		xfer_free(x);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *s = h->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(s->http->multi, s->fd, flags, &running);
	check_done(s->http);
}

static void on_timer(uv_timer_t *t)
{
	struct coordc_http *http = t->data;
	int running;

	curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(http);
}

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct coordc_http *http = userp;
	struct sock *s = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s && !s->closing) {
			s->closing = true;
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, on_sock_closed);
			curl_multi_assign(http->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->fd = fd;
		s->http = http;
		if (uv_poll_init_socket(http->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		curl_multi_assign(http->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int on_timeout(CURLM *multi, long timeout_ms, void *userp)
{
	struct coordc_http *http = userp;

	if (timeout_ms < 0)
		uv_timer_stop(&http->timer);
	else /* 0 too: act on the next loop turn, not from inside libcurl */
		uv_timer_start(&http->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	struct coordc_http_xfer *x = userp;
	size_t len = size * n, need;

	if (len > x->http->max_response - x->resp_len) {
		x->too_big = true;
		return 0; /* libcurl fails the transfer with a write error */
	}
	need = x->resp_len + len + 1;
	if (need > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		if (cap > x->http->max_response + 1)
			cap = x->http->max_response + 1;
		p = realloc(x->resp, cap);
		if (!p)
			return 0;
		x->resp = p;
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, data, len);
	x->resp_len += len;
	x->resp[x->resp_len] = '\0';
	return len;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct coordc_http *coordc_http_new(uv_loop_t *loop,
				    const struct coordc_http_config *cfg)
{
	static uv_once_t once = UV_ONCE_INIT;
	struct coordc_http *http;
	bool failed = false;

	if (!loop || !cfg)
		return NULL;
	uv_once(&once, global_init);
	http = calloc(1, sizeof(*http));
	if (!http)
		return NULL;
	http->loop = loop;
	http->ca_file = dup_or_null(cfg->ca_file, &failed);
	http->pin = dup_or_null(cfg->pin, &failed);
	http->allow_http = cfg->allow_http;
	http->connect_timeout_ms = cfg->connect_timeout_ms
					   ? cfg->connect_timeout_ms
					   : COORDC_HTTP_DEFAULT_CONNECT_MS;
	http->max_response = cfg->max_response
				     ? cfg->max_response
				     : COORDC_HTTP_DEFAULT_MAX_RESPONSE;
	http->multi = curl_multi_init();
	if (failed || !http->multi || uv_timer_init(loop, &http->timer) < 0) {
		curl_multi_cleanup(http->multi);
		free(http->ca_file);
		free(http->pin);
		free(http);
		return NULL;
	}
	http->timer.data = http;
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
	return http;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct coordc_http *http = h->data;

	free(http->ca_file);
	free(http->pin);
	free(http);
}

void coordc_http_free(struct coordc_http *http)
{
	if (!http)
		return;
	/* removing the handles makes libcurl drop their sockets (REMOVE) */
	while (http->xfers)
		xfer_free(http->xfers);
	curl_multi_cleanup(http->multi);
	http->multi = NULL;
	uv_timer_stop(&http->timer);
	uv_close((uv_handle_t *)&http->timer, on_timer_closed);
}

static int xfer_setup(struct coordc_http_xfer *x,
		      const struct coordc_http_request *req)
{
	struct coordc_http *http = x->http;
	CURL *e = x->easy;
	bool post = strcmp(req->method, "POST") == 0;
	char auth[512];

	x->headers = curl_slist_append(x->headers, "Accept: application/json");
	/* no "100-continue" round trip for our small bodies */
	x->headers = curl_slist_append(x->headers, "Expect:");
	if (post)
		x->headers = curl_slist_append(
			x->headers, "Content-Type: application/json");
	if (req->bearer) {
		if ((size_t)snprintf(auth, sizeof(auth),
				     "Authorization: Bearer %s",
				     req->bearer) >= sizeof(auth))
			return -EINVAL;
		x->headers = curl_slist_append(x->headers, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	if (!x->headers)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
			 http->allow_http ? "https,http" : "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "icemesh/1");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)http->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	/* long-polls sit idle for a minute behind NATs */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 25L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (http->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, http->ca_file);
	if (http->pin) {
		curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, http->pin);
		if (!http->ca_file) {
			/* the pin is the whole trust: see http.h */
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}
	if (post) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
				 req->body ? req->body : "");
	} else if (strcmp(req->method, "GET") != 0) {
		return -EINVAL;
	}
	return 0;
}

int coordc_http_start(struct coordc_http *http,
		      const struct coordc_http_request *req,
		      coordc_http_done_fn done, void *arg,
		      struct coordc_http_xfer **out)
{
	struct coordc_http_xfer *x;
	int ret;

	if (!http || !req || !req->url || !req->method || !done ||
	    (req->body_len && !req->body))
		return -EINVAL;
	if (http->n_xfers >= COORDC_HTTP_MAX_INFLIGHT)
		return -EAGAIN;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->http = http;
	x->done = done;
	x->arg = arg;
	x->next = http->xfers;
	if (x->next)
		x->next->prev = x;
	http->xfers = x;
	http->n_xfers++;
	x->easy = curl_easy_init();
	if (!x->easy) {
		ret = -ENOMEM;
		goto err;
	}
	ret = xfer_setup(x, req);
	if (ret)
		goto err;
	if (curl_multi_add_handle(http->multi, x->easy) != CURLM_OK) {
		ret = -ENOMEM;
		goto err;
	}
	if (out)
		*out = x;
	return 0;
err:
	xfer_free(x);
	return ret;
}

void coordc_http_cancel(struct coordc_http_xfer *x)
{
	if (x)
		xfer_free(x);
}

unsigned coordc_http_inflight(const struct coordc_http *http)
{
	return http->n_xfers;
}

uint64_t coordc_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms,
			   uint32_t rnd)
{
	uint64_t d = base_ms ? base_ms : 1;

	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* uniform in [d/2, d] */
	return d / 2 + (uint64_t)rnd % (d - d / 2 + 1);
}
