// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "api_request.h"
#include "exit_status.h"
#include "virtio/virtio.h"
#include "vireo/log.h"
#include "vireo/unix_socket.h"
#include "vireo/util.h"

struct api_client {
	struct event_source src;
	struct api_server *srv;
	size_t len;
	char buf[API_MAX_LINE + 1];
};

struct api_server {
	struct unix_listener sock;
	struct event_source listener;
	struct event_loop *loop;
	struct vm *vm;
	int proc_status;  /* /proc/self/status, opened before any sandbox */
	struct api_client *clients[API_MAX_CLIENTS];
};

/* Reads "Key:   N kB" from /proc/self/status; 0 if absent. */
static uint64_t proc_status_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	unsigned long long v = 0;

	if (p)
		sscanf(p + strlen(key), " %llu", &v);
	return v;
}

static json_t *exits_object(const uint64_t *exits)
{
	json_t *o = json_object();
	for (int k = 0; k < EXIT_KINDS; k++)
		json_object_set_new(o, vcpu_exit_names[k], json_integer((json_int_t)exits[k]));
	return o;
}

static const char *mp_state_name(uint32_t s)
{
	switch (s) {
	case KVM_MP_STATE_RUNNABLE:
		return "runnable";
	case KVM_MP_STATE_UNINITIALIZED:
		return "waiting-for-sipi";
	case KVM_MP_STATE_INIT_RECEIVED:
		return "init-received";
	case KVM_MP_STATE_HALTED:
		return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED:
		return "sipi-received";
	default:
		return "other";
	}
}

/* Reads /proc/self/status through an fd opened at start; NULL-terminated, or NULL. */
static char *read_proc_status(int fd, char *buf, size_t len)
{
	ssize_t n = fd >= 0 ? pread(fd, buf, len - 1, 0) : -1;
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static json_t *api_stats(struct api_server *srv)
{
	struct vm *vm = srv->vm;
	char status_buf[4096];
	json_t *res = json_object(), *vcpus = json_array(), *mem = json_object();
	uint64_t total[EXIT_KINDS] = { 0 };
	enum vm_state state = vm_get_state(vm);
	const char *status;
	struct stat st;

	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t exits[EXIT_KINDS];
		json_t *o = json_object();

		for (int k = 0; k < EXIT_KINDS; k++) {
			exits[k] = __atomic_load_n(&v->exits[k], __ATOMIC_RELAXED);
			total[k] += exits[k];
		}
		json_object_set_new(o, "id", json_integer(i));
		json_object_set_new(o, "exits", exits_object(exits));
		if (state == VM_STATE_PAUSED) {
			/* Parked threads are outside KVM_RUN, so the vCPU ioctl does not block. */
			struct kvm_mp_state mp;
			json_object_set_new(o, "state", json_string("paused"));
			if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0)
				json_object_set_new(o, "mp_state", json_string(mp_state_name(mp.mp_state)));
		} else {
			json_object_set_new(o, "state", json_string(vm_state_name(state)));
		}
		json_array_append_new(vcpus, o);
	}
	json_object_set_new(res, "exits", exits_object(total));
	json_object_set_new(res, "vcpus", vcpus);

	json_object_set_new(mem, "guest_mib", json_integer((json_int_t)(vm->mem->ram_bytes >> 20)));
	if (fstat(vm->mem->memfd, &st) == 0)
		json_object_set_new(mem, "guest_resident_kib",
				    json_integer((json_int_t)(st.st_blocks / 2)));
	if ((status = read_proc_status(srv->proc_status, status_buf, sizeof(status_buf)))) {
		/* The VMM's own memory: private pages and mapped files, not guest RAM. */
		uint64_t anon = proc_status_kib(status, "RssAnon:");
		uint64_t file = proc_status_kib(status, "RssFile:");
		json_object_set_new(mem, "vmm_rss_kib", json_integer((json_int_t)(anon + file)));
		json_object_set_new(mem, "rss_anon_kib", json_integer((json_int_t)anon));
		json_object_set_new(mem, "rss_file_kib", json_integer((json_int_t)file));
		json_object_set_new(mem, "rss_shmem_kib",
				    json_integer((json_int_t)proc_status_kib(status, "RssShmem:")));
	}
	json_object_set_new(res, "memory", mem);
	json_t *unhandled = json_object();
	json_object_set_new(unhandled, "pio", json_integer((json_int_t)__atomic_load_n(&vm->pio.unhandled, __ATOMIC_RELAXED)));
	json_object_set_new(unhandled, "mmio", json_integer((json_int_t)__atomic_load_n(&vm->mmio.unhandled, __ATOMIC_RELAXED)));
	json_object_set_new(res, "unhandled_accesses", unhandled);
	json_t *devices = json_array();
	for (unsigned int i = 0; i < vm->nr_virtio; i++)
		json_array_append_new(devices, virtio_dev_stats(vm->virtio[i]));
	json_object_set_new(res, "virtio", devices);
	return res;
}

static json_t *api_status(struct vm *vm)
{
	json_t *res = json_object();

	json_object_set_new(res, "name", json_string(vm->cfg.name));
	json_object_set_new(res, "vcpus", json_integer(vm->nr_vcpus));
	json_object_set_new(res, "memory_mib", json_integer((json_int_t)(vm->mem->ram_bytes >> 20)));
	json_object_set_new(res, "boot_protocol", json_string(boot_protocol_name(vm->boot.protocol)));
	json_object_set_new(res, "pvm_host", json_boolean(vm->pvm_host));
	json_object_set_new(res, "uptime_ms",
			    json_integer((json_int_t)((time_now_ns() - vm->start_ns) / 1000000)));
	return res;
}

/* Runs one request; returns the reply members, or NULL with ERR set. */
static json_t *api_dispatch(struct api_server *srv, enum api_cmd cmd, char *err, size_t errlen)
{
	struct vm *vm = srv->vm;

	switch (cmd) {
	case API_STATUS:
		return api_status(vm);
	case API_STATS:
		return api_stats(srv);
	case API_PAUSE:
		if (vm_pause(vm) < 0) {
			snprintf(err, errlen, "the VM is %s", vm_state_name(vm_get_state(vm)));
			return NULL;
		}
		return json_object();
	case API_RESUME:
		if (vm_resume(vm) < 0) {
			snprintf(err, errlen, "the VM is %s", vm_state_name(vm_get_state(vm)));
			return NULL;
		}
		return json_object();
	case API_CTRL_ALT_DEL:
		vm_send_ctrl_alt_del(vm);
		return json_object();
	case API_STOP:
		vm_request_stop(vm, VMM_EXIT_OK, "stopped through the control API");
		return json_object();
	default:
		snprintf(err, errlen, "unknown command");
		return NULL;
	}
}

static void client_close(struct api_client *c)
{
	struct api_server *srv = c->srv;

	for (int i = 0; i < API_MAX_CLIENTS; i++)
		if (srv->clients[i] == c)
			srv->clients[i] = NULL;
	event_loop_del(srv->loop, &c->src);
	close(c->src.fd);
	free(c);
}

/* Sends one reply line; returns false if the client is gone or not reading. */
static bool client_reply(struct api_client *c, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	bool ok = false;

	if (text) {
		size_t len = strlen(text);
		text[len] = '\n';
		ok = send(c->src.fd, text, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len + 1;
		free(text);
	}
	return ok;
}

static bool client_handle_line(struct api_client *c, const char *line, size_t len)
{
	struct api_request req;
	char err[256] = "";
	json_t *reply, *result = NULL;
	bool ok;

	if (api_request_parse(line, len, &req, err, sizeof(err)) == 0)
		result = api_dispatch(c->srv, req.cmd, err, sizeof(err));
	reply = result ? result : json_object();
	json_object_set_new(reply, "ok", json_boolean(result != NULL));
	if (!result)
		json_object_set_new(reply, "error", json_string(err));
	if (req.id)
		json_object_set(reply, "id", req.id);
	if (result && req.cmd != API_STATS)
		json_object_set_new(reply, "state", json_string(vm_state_name(vm_get_state(c->srv->vm))));
	ok = client_reply(c, reply);
	json_decref(reply);
	api_request_fini(&req);
	return ok;
}

static void client_readable(struct event_source *src, uint32_t events)
{
	struct api_client *c = src->opaque;
	ssize_t n;

	(void)events;
	n = recv(c->src.fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c);
		return;
	}
	if (n < 0)
		return;
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			break;
		size_t line_len = (size_t)(nl - c->buf);
		if (!client_handle_line(c, c->buf, line_len)) {
			client_close(c);
			return;
		}
		memmove(c->buf, nl + 1, c->len - line_len - 1);
		c->len -= line_len + 1;
	}
	if (c->len >= sizeof(c->buf) - 1) {
		json_t *reply = json_pack("{s:b, s:s}", "ok", 0, "error", "request line too long");
		client_reply(c, reply);
		json_decref(reply);
		client_close(c);
	}
}

static void listener_readable(struct event_source *src, uint32_t events)
{
	struct api_server *srv = src->opaque;
	int fd, slot = -1;
	(void)events;

	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < API_MAX_CLIENTS && slot < 0; i++)
		if (!srv->clients[i])
			slot = i;
	struct api_client *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		static const char busy[] = "{\"ok\":false,\"error\":\"too many connections\"}\n";
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_verbose("api: refused a connection");
		close(fd);
		return;
	}
	c->srv = srv;
	c->src = (struct event_source){ .fd = fd, .callback = client_readable, .opaque = c };
	if (event_loop_add(srv->loop, &c->src, EPOLLIN) < 0) {
		close(fd);
		free(c);
		return;
	}
	srv->clients[slot] = c;
}

int api_server_create(struct event_loop *loop, const char *path, struct vm *vm,
		      struct api_server **out)
{
	struct api_server *srv = calloc(1, sizeof(*srv));
	int ret;

	if (!srv)
		return -ENOMEM;
	ret = unix_listener_open(&srv->sock, path, 2 * API_MAX_CLIENTS);
	if (ret < 0) {
		free(srv);
		return ret;
	}
	srv->loop = loop;
	srv->vm = vm;
	/* jansson seeds its hash tables from /dev/urandom on first use: now, not in the sandbox. */
	json_object_seed(0);
	srv->proc_status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	srv->listener = (struct event_source){ .fd = srv->sock.fd, .callback = listener_readable, .opaque = srv };
	ret = event_loop_add(loop, &srv->listener, EPOLLIN);
	if (ret < 0) {
		unix_listener_close(&srv->sock);
		close(srv->proc_status);
		free(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

void api_server_destroy(struct api_server *srv)
{
	if (!srv)
		return;
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		if (srv->clients[i])
			client_close(srv->clients[i]);
	event_loop_del(srv->loop, &srv->listener);
	unix_listener_close(&srv->sock);
	if (srv->proc_status >= 0)
		close(srv->proc_status);
	free(srv);
}
