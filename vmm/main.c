// SPDX-License-Identifier: Apache-2.0
/*
 * vireo-vmm: one process per virtual machine, on /dev/kvm.
 * See docs/vireo-vmm.md for the command line, the control API and the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api.h"
#include "console.h"
#include "console_socket.h"
#include "exit_status.h"
#include "hw/serial.h"
#include "sandbox.h"
#include "vireo/event_loop.h"
#include "vireo/log.h"
#include "vireo/util.h"
#include "virtio/console.h"
#include "vm.h"

#define DEFAULT_MEM_MIB 128
#define CONSOLE_TICK_MS 10

struct options {
	struct vm_config vm;
	const char *serial;
	int serial_file;          /* --serial file:PATH, else -1 */
	const char *console;
	const char *api_sock;
	struct sandbox_config sandbox;
};

struct main_ctx {
	struct event_loop *loop;
	struct vm *vm;
	struct console *console;
	struct console_socket *console_socket;
	struct event_source stop_src, signal_src;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vireo-vmm --kernel PATH [--initrd PATH] [--cmdline STR] [--mem MIB]\n"
		"                 [--cpus N] [--serial stdio|file:PATH|unix:PATH|none]\n"
		"                 [--api-sock PATH]\n"
		"                 [--boot-protocol auto|linux64|pvh] [--name NAME]\n"
		"                 [--rng] [--console stdio|file:PATH|none]\n"
		"                 [--log-level none|error|warning|info|verbose|trivia]\n"
		"                 [--sandbox UID:GID]\n"
		"Runs one virtual machine. Exit status: 0 when the guest powers off or resets,\n"
		"(v << 1) | 1 when it writes v to port 0xf4, an even number from 2 when the VMM\n"
		"fails (see docs/vireo-vmm.md).\n");
}

/* --console: a virtio-console (hvc0) whose output goes to stdout or a file. */
static int parse_console(struct options *o)
{
	if (strcmp(o->console, "none") == 0)
		return 0;
	o->vm.virtio_console = true;
	if (strcmp(o->console, "stdio") == 0) {
		o->vm.virtio_console_fd = STDOUT_FILENO;
	} else if (strncmp(o->console, "file:", 5) == 0 && o->console[5]) {
		o->vm.virtio_console_fd = open(o->console + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					       0640);
		if (o->vm.virtio_console_fd < 0) {
			fprintf(stderr, "vireo-vmm: --console %s: %s\n", o->console, strerror(errno));
			return -EINVAL;
		}
	} else {
		fprintf(stderr, "vireo-vmm: --console is stdio, file:PATH or none\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "serial", required_argument, NULL, 's' },
		{ "api-sock", required_argument, NULL, 'a' },
		{ "boot-protocol", required_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "sandbox", required_argument, NULL, 'S' },
		{ "sandbox-selftest", required_argument, NULL, 'T' },
		{ "rng", no_argument, NULL, 'r' },
		{ "console", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, level;

	memset(o, 0, sizeof(*o));
	o->vm.name = "vm";
	o->vm.mem_bytes = DEFAULT_MEM_MIB * MIB;
	o->vm.nr_vcpus = 1;
	o->serial_file = -1;
	o->serial = "stdio";
	o->sandbox.selftest = SANDBOX_THREAD_TYPES;
	o->console = "none";
	o->vm.virtio_console_fd = -1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->vm.kernel = optarg;
			break;
		case 'i':
			o->vm.initrd = optarg;
			break;
		case 'c':
			o->vm.cmdline = optarg;
			break;
		case 'm':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > (1ULL << 40) / MIB) {
				fprintf(stderr, "vireo-vmm: --mem takes a size in MiB, not \"%s\"\n", optarg);
				return -EINVAL;
			}
			o->vm.mem_bytes = v * MIB;
			break;
		case 'p':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > VM_MAX_VCPUS) {
				fprintf(stderr, "vireo-vmm: --cpus takes 1 to %d, not \"%s\"\n",
					VM_MAX_VCPUS, optarg);
				return -EINVAL;
			}
			o->vm.nr_vcpus = (unsigned int)v;
			break;
		case 's':
			o->serial = optarg;
			break;
		case 'a':
			o->api_sock = optarg;
			break;
		case 'r':
			o->vm.virtio_rng = true;
			break;
		case 'C':
			o->console = optarg;
			break;
		case 'b':
			if (boot_protocol_parse(optarg, &o->vm.protocol) < 0) {
				fprintf(stderr, "vireo-vmm: --boot-protocol is auto, linux64 or pvh\n");
				return -EINVAL;
			}
			break;
		case 'n':
			o->vm.name = optarg;
			break;
		case 'l':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "vireo-vmm: unknown log level \"%s\"\n", optarg);
				return -EINVAL;
			}
			log_set_level((enum log_level)level);
			break;
		case 'S': {
			unsigned int uid, gid;
			char tail;
			if (sscanf(optarg, "%u:%u%c", &uid, &gid, &tail) != 2 || uid == 0 || gid == 0) {
				fprintf(stderr, "vireo-vmm: --sandbox takes UID:GID, not root's\n");
				return -EINVAL;
			}
			o->sandbox.enabled = true;
			o->sandbox.uid = uid;
			o->sandbox.gid = gid;
			break;
		}
		case 'T':
			if (sandbox_thread_parse(optarg, &o->sandbox.selftest) < 0) {
				fprintf(stderr, "vireo-vmm: --sandbox-selftest is control, vcpu or io\n");
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->vm.kernel) {
		usage(stderr);
		return -EINVAL;
	}
	if (strcmp(o->serial, "stdio") == 0) {
		o->vm.serial = serial_sink_fd(STDOUT_FILENO);
	} else if (strncmp(o->serial, "file:", 5) == 0 && o->serial[5]) {
		o->serial_file = open(o->serial + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (o->serial_file < 0) {
			fprintf(stderr, "vireo-vmm: --serial %s: %s\n", o->serial, strerror(errno));
			return -EINVAL;
		}
		o->vm.serial = serial_sink_fd(o->serial_file);
	} else if (!(strncmp(o->serial, "unix:", 5) == 0 && o->serial[5]) &&
		   strcmp(o->serial, "none") != 0) {
		fprintf(stderr, "vireo-vmm: --serial is stdio, file:PATH, unix:PATH or none\n");
		return -EINVAL;
	}
	return parse_console(o);
}

static void on_stop(struct event_source *src, uint32_t events)
{
	struct main_ctx *ctx = src->opaque;
	(void)events;
	event_loop_quit(ctx->loop);
}

static void on_signal(struct event_source *src, uint32_t events)
{
	struct main_ctx *ctx = src->opaque;
	struct signalfd_siginfo si;
	(void)events;

	if (read(src->fd, &si, sizeof(si)) == sizeof(si))
		vm_request_stop(ctx->vm, VMM_EXIT_OK, "stopped by signal %s", strsignal((int)si.ssi_signo));
}

static size_t serial_sink(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

static size_t virtio_console_sink(void *opaque, const uint8_t *buf, size_t len)
{
	return virtio_console_receive(opaque, buf, len);
}

static void on_tick(void *opaque)
{
	struct main_ctx *ctx = opaque;
	console_tick(ctx->console);
	console_socket_tick(ctx->console_socket);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct main_ctx ctx = { 0 };
	struct api_server *api = NULL;
	char object[80];
	sigset_t sigs;
	int status;

	log_init("vireo-vmm", NULL);
	if (parse_options(argc, argv, &opt) < 0)
		return VMM_EXIT_USAGE;
	snprintf(object, sizeof(object), "vm/%s", opt.vm.name);
	log_init("vireo-vmm", object);

	/* Signals arrive on a signalfd; vCPU threads inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (sandbox_init(&opt.sandbox) < 0 || event_loop_create(&ctx.loop) < 0)
		return VMM_EXIT_HOST;
	if (strncmp(opt.serial, "unix:", 5) == 0) {
		if (console_socket_create(ctx.loop, opt.serial + 5, &ctx.console_socket) < 0) {
			status = VMM_EXIT_HOST;
			goto out;
		}
		opt.vm.serial = console_socket_sink(ctx.console_socket);
	}
	status = vm_create(&opt.vm, &ctx.vm);
	if (status != VMM_EXIT_OK)
		goto out;
	struct console_sink com1 = { serial_sink, ctx.vm->serial };
	if (ctx.console_socket && console_socket_attach(ctx.console_socket, com1) < 0) {
		status = VMM_EXIT_HOST;
		goto out;
	}
	ctx.stop_src = (struct event_source){ .fd = ctx.vm->stop_fd, .callback = on_stop, .opaque = &ctx };
	ctx.signal_src = (struct event_source){ .fd = signalfd(-1, &sigs, SFD_CLOEXEC),
						.callback = on_signal, .opaque = &ctx };
	if (ctx.signal_src.fd < 0 || event_loop_add(ctx.loop, &ctx.stop_src, EPOLLIN) < 0 ||
	    event_loop_add(ctx.loop, &ctx.signal_src, EPOLLIN) < 0) {
		status = VMM_EXIT_HOST;
		goto out;
	}
	if (opt.api_sock && api_server_create(ctx.loop, opt.api_sock, ctx.vm, &api) < 0) {
		status = VMM_EXIT_HOST;
		goto out;
	}
	/* Typed input goes to hvc0 when it is on stdio, else to COM1 when that is. */
	struct console_sink typed = com1;
	if (strcmp(opt.console, "stdio") == 0)
		typed = (struct console_sink){ virtio_console_sink, ctx.vm->virtio_console };
	if ((strcmp(opt.serial, "stdio") == 0 || strcmp(opt.console, "stdio") == 0) &&
	    console_create(ctx.loop, ctx.vm, STDIN_FILENO, typed, &ctx.console) < 0) {
		status = VMM_EXIT_HOST;
		goto out;
	}
	/* Everything is open: lock the process down, then start the threads. */
	if (sandbox_enter() < 0) {
		status = VMM_EXIT_HOST;
		goto out;
	}
	sandbox_release(true);
	if (vm_start(ctx.vm) == 0 && sandbox_apply(SANDBOX_CONTROL) == 0)
		event_loop_run(ctx.loop, CONSOLE_TICK_MS, on_tick, &ctx);
	else
		vm_request_stop(ctx.vm, VMM_EXIT_HOST, "cannot start the VM");
	vm_join(ctx.vm);
	status = ctx.vm->exit_status;
	if (status == VMM_EXIT_OK || (status & 1))
		log_info("exit %d: %s", status, ctx.vm->exit_reason);
	else
		log_error("exit %d: %s", status, ctx.vm->exit_reason);
out:
	sandbox_release(false); /* I/O threads still waiting end now */
	console_destroy(ctx.console);
	console_socket_destroy(ctx.console_socket);
	api_server_destroy(api);
	if (ctx.signal_src.fd > 0)
		close(ctx.signal_src.fd);
	event_loop_destroy(ctx.loop);
	vm_destroy_detached(ctx.vm);
	if (opt.serial_file >= 0)
		close(opt.serial_file);
	if (opt.vm.virtio_console_fd > STDERR_FILENO)
		close(opt.vm.virtio_console_fd);
	return status;
}
