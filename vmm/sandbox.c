// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exit_status.h"
#include "sandbox.h"
#include "vireo/log.h"
#include "vireo/util.h"

static struct sandbox_config config = { .selftest = SANDBOX_THREAD_TYPES };
static __thread int thread_type = -1;

/* The gate I/O threads wait at until the process is sandboxed: 0 closed, 1 open, -1 abandoned. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate;

static const char *const type_names[SANDBOX_THREAD_TYPES] = {
	[SANDBOX_CONTROL] = "control", [SANDBOX_VCPU] = "vcpu", [SANDBOX_IO] = "io",
};

/* Calls every thread makes: memory, locks, signals, time, thread exit. */
static const int common_calls[] = {
	SCMP_SYS(futex), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(brk), SCMP_SYS(mremap), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettid),
	SCMP_SYS(getpid), SCMP_SYS(tgkill), SCMP_SYS(sched_yield), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(read), SCMP_SYS(close),
	SCMP_SYS(restart_syscall), SCMP_SYS(getrandom), SCMP_SYS(sigaltstack),
};

/* The control thread: event loop, sockets, the console, stats, the exit fork. */
static const int control_calls[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(accept4),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
	SCMP_SYS(pread64), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(ioctl), SCMP_SYS(pipe2), SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(wait4),
	SCMP_SYS(unlinkat), SCMP_SYS(fcntl), SCMP_SYS(eventfd2), SCMP_SYS(timerfd_create),
	SCMP_SYS(timerfd_settime), SCMP_SYS(rt_sigaction), SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq), SCMP_SYS(prctl), SCMP_SYS(dup), SCMP_SYS(socketpair),
};

/* Device I/O threads: files and disks, eventfds, their event loop. */
static const int io_calls[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(readv), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate), SCMP_SYS(ftruncate), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(lseek), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
	SCMP_SYS(eventfd2), SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(ioctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
};

/* The vCPU threads' only ioctls: running the vCPU and reading its state for reports. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_SET_REGS, KVM_SET_SREGS,
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_IRQ_LINE, KVM_SIGNAL_MSI,
	KVM_IOEVENTFD, KVM_IRQFD, KVM_SET_GSI_ROUTING, KVM_TRANSLATE,
};

const char *sandbox_thread_name(enum sandbox_thread t)
{
	return t < SANDBOX_THREAD_TYPES ? type_names[t] : "?";
}

int sandbox_thread_parse(const char *s, enum sandbox_thread *out)
{
	for (int i = 0; i < SANDBOX_THREAD_TYPES; i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*out = (enum sandbox_thread)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool sandbox_enabled(void)
{
	return config.enabled;
}

/* Async-signal-safe number formatting for the SIGSYS report. */
static size_t put_decimal(char *p, long v)
{
	char tmp[24];
	size_t n = 0, len = 0;
	if (v < 0) {
		p[len++] = '-';
		v = -v;
	}
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	while (n)
		p[len++] = tmp[--n];
	return len;
}

/* Reports the forbidden call with async-signal-safe calls only, then exits. */
static void sigsys_handler(int sig, siginfo_t *si, void *ctx)
{
	static const char head[] = "vireo-vmm: sandbox: a thread of type ";
	static const char mid[] = " made the forbidden system call ";
	static const char tail[] = "; stopping\n";
	const char *type = thread_type >= 0 ? type_names[thread_type] : "unknown";
	char msg[160];
	size_t len = 0;
	(void)sig;
	(void)ctx;

	memcpy(msg + len, head, sizeof(head) - 1);
	len += sizeof(head) - 1;
	memcpy(msg + len, type, strlen(type));
	len += strlen(type);
	memcpy(msg + len, mid, sizeof(mid) - 1);
	len += sizeof(mid) - 1;
	len += put_decimal(msg + len, si->si_syscall);
	memcpy(msg + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	if (write(STDERR_FILENO, msg, len) < 0)
		len = 0;
	/* The raw call: library wrappers of _exit (sanitizers') may make forbidden calls. */
	syscall(SYS_exit_group, VMM_EXIT_SANDBOX);
}

int sandbox_init(const struct sandbox_config *cfg)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };

	config = *cfg;
	if (!config.enabled)
		return 0;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

int sandbox_enter(void)
{
	if (!config.enabled)
		return 0;
	/* A root that holds nothing: the VM's files are already open. */
	if (unshare(CLONE_NEWNS) < 0) {
		int err = -errno;
		log_error_errno(err, "sandbox: a private mount namespace needs CAP_SYS_ADMIN (start as root)");
		return err;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("vireo-empty", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") < 0 ||
	    chroot("/tmp") < 0 || chdir("/") < 0 ||
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		int err = -errno;
		log_error_errno(err, "sandbox: cannot make an empty root");
		return err;
	}
	if (setgroups(0, NULL) < 0 || setresgid(config.gid, config.gid, config.gid) < 0 ||
	    setresuid(config.uid, config.uid, config.uid) < 0) {
		int err = -errno;
		log_error_errno(err, "sandbox: cannot become uid %u gid %u", config.uid, config.gid);
		return err;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	log_verbose("sandbox: empty root, uid %u gid %u", config.uid, config.gid);
	return 0;
}

static int add_calls(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void sandbox_release(bool ok)
{
	pthread_mutex_lock(&gate_lock);
	if (gate == 0) {
		gate = ok ? 1 : -1;
		pthread_cond_broadcast(&gate_cond);
	}
	pthread_mutex_unlock(&gate_lock);
}

int sandbox_apply(enum sandbox_thread type)
{
	scmp_filter_ctx ctx;
	int ret, open;

	if (!config.enabled)
		return 0;
	if (type == SANDBOX_IO) {
		pthread_mutex_lock(&gate_lock);
		while (gate == 0)
			pthread_cond_wait(&gate_cond, &gate_lock);
		open = gate;
		pthread_mutex_unlock(&gate_lock);
		if (open < 0)
			return -ECANCELED;
	}
	thread_type = (int)type;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	ret = add_calls(ctx, common_calls, ARRAY_SIZE(common_calls));
	switch (type) {
	case SANDBOX_CONTROL:
		if (ret == 0)
			ret = add_calls(ctx, control_calls, ARRAY_SIZE(control_calls));
		break;
	case SANDBOX_IO:
		if (ret == 0)
			ret = add_calls(ctx, io_calls, ARRAY_SIZE(io_calls));
		break;
	case SANDBOX_VCPU:
		for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(vcpu_ioctls); i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					       SCMP_A1(SCMP_CMP_EQ, vcpu_ioctls[i]));
		/* The UART's output to console-socket clients (send, MSG_DONTWAIT). */
		if (ret == 0)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 0);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret < 0) {
		log_error_errno(ret, "sandbox: loading the %s filter", type_names[type]);
		return ret;
	}
	if (config.selftest == type) {
		log_warn("sandbox: self-test: a thread of type %s makes a forbidden call", type_names[type]);
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	}
	return 0;
}
