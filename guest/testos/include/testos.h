// SPDX-License-Identifier: Apache-2.0
/*
 * testos core declarations: console output, failure and exit, strings.
 * All of this runs in CPL3 (trap.c excepted) with IOPL=3 and IF=0.
 */
#ifndef TESTOS_H
#define TESTOS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* errno values (no libc): functions return 0 or one of these, negated. */
#define ENOENT		2
#define EIO		5
#define E2BIG		7
#define EAGAIN		11
#define ENOMEM		12
#define EBUSY		16
#define ENODEV		19
#define EINVAL		22
#define ENOSPC		28
#define ERANGE		34
#define EPROTO		71
#define ETIMEDOUT	110

/*
 * Codes written to the debug-exit port 0xf4 (QEMU isa-debug-exit turns
 * value v into exit status 2 * v + 1). 0 is a pass.
 */
enum exit_code {
	EXIT_PASS = 0,
	EXIT_USAGE = 1,		/* bad command line */
	EXIT_EXCEPTION = 2,	/* a CPU exception reached CPL0 */
	EXIT_BOOTINFO = 3,	/* boot_params / hvm_start_info unusable */
	EXIT_TIMER = 4,		/* no usable TSC frequency */
	EXIT_COUNTER = 5,	/* counter memory corrupted */
	EXIT_DIRTY = 6,		/* dirtied memory lost a write */
	EXIT_SMP = 7,		/* not all CPUs started */
	EXIT_NOMEM = 8,		/* not enough RAM for the request */
	EXIT_INTERNAL = 9,	/* a broken invariant in testos itself */
	EXIT_DEVICE = 10,	/* a device is missing, refused setup or misbehaved */
	EXIT_VERIFY = 11,	/* data read back (disk, network) is wrong */
};

/* serial.c: the 8250 UART at 0x3f8, polled. Safe in CPL0 too. */
void serial_init(void);
void serial_write(const char *s, size_t len);
/* The next received byte, or -1 when none is waiting (never blocks). */
int serial_read_byte(void);

/* kbd.c: the PS/2 keyboard, polled. True once ctrl-alt-del was typed. */
bool kbd_ctrl_alt_del(void);

/* con.c: formatted output (subset of printf: %c %s %d %i %u %x %X %p, with
 * l/ll/z modifiers, width, '0' and '-' flags). '\n' goes out as "\r\n". */
int con_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int con_snprintf(char *buf, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4);
void con_printf(const char *fmt, ...) PRINTF_LIKE(1, 2);
void con_vprintf(const char *fmt, va_list ap);

/* exit.c: how a run ends. */
enum exit_method {
	EXIT_METHOD_AUTO,	/* the mode's default */
	EXIT_METHOD_DEBUG,	/* debug-exit port 0xf4 */
	EXIT_METHOD_RESET,	/* i8042 reset pulse, then triple fault */
	EXIT_METHOD_TRIPLE,	/* triple fault */
};
int exit_parse_method(const char *name, enum exit_method *out);
void exit_set_method(enum exit_method method, enum exit_method mode_default);
/* Ends a passing run with the configured method. */
NORETURN void exit_pass(void);
/* Prints "testos: FAIL <reason>", writes code to port 0xf4, then halts. */
NORETURN void fail(enum exit_code code, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* i8042 reset pulse, then a triple fault. */
NORETURN void exit_power_off(void);

/* string.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Parses a decimal or 0x-hex unsigned number that fills all of s. */
int str_to_u64(const char *s, uint64_t *out);

/* Physical memory is identity mapped below 4 GiB. Returns NULL when
 * [addr, addr + len) is not inside that window. */
static inline void *phys_ptr(uint64_t addr, uint64_t len)
{
	if (addr >= (1ULL << 32) || len > (1ULL << 32) - addr)
		return NULL;
	return (void *)(uintptr_t)addr;
}

/* mem.c: memory for rings and buffers that devices reach by physical
 * address (testos is identity mapped: virtual = physical). A bump
 * allocator over the largest free RAM range below 4 GiB; nothing is freed.
 * Returns zeroed memory aligned to align (a power of two), or NULL. */
void *mem_alloc(uint64_t len, uint64_t align);
/* Bytes left for mem_alloc. */
uint64_t mem_free_bytes(void);

/* Symbols of the link (testos.ld). */
extern char _image_start[], _end[];

#endif
