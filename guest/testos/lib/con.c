// SPDX-License-Identifier: Apache-2.0
/* Formatted console output (a printf subset, see testos.h). */
#include "testos.h"

#define CON_LINE_MAX 512

struct outbuf {
	char *buf;
	size_t size;
	size_t len;	/* characters produced, even past size */
};

static void out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_number(struct outbuf *o, uint64_t v, unsigned int base, bool upper,
		       bool negative, unsigned int width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	unsigned int n = 0, len, i;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v != 0);
	len = n + (negative ? 1 : 0);
	if (negative && zero)
		out_char(o, '-');
	if (!left) {
		for (i = len; i < width; i++)
			out_char(o, zero ? '0' : ' ');
	}
	if (negative && !zero)
		out_char(o, '-');
	while (n > 0)
		out_char(o, tmp[--n]);
	if (left) {
		for (i = len; i < width; i++)
			out_char(o, ' ');
	}
}

int con_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		bool zero = false, left = false;
		unsigned int width = 0, lng = 0;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned int)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n, i;

			if (!s)
				s = "(null)";
			n = strlen(s);
			for (i = n; !left && i < width; i++)
				out_char(&o, ' ');
			for (i = 0; i < n; i++)
				out_char(&o, s[i]);
			for (i = n; left && i < width; i++)
				out_char(&o, ' ');
			break;
		}
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

			out_number(&o, mag, 10, false, v < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);

			out_number(&o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false,
				   width, zero, left);
			break;
		}
		case 'p':
			out_char(&o, '0');
			out_char(&o, 'x');
			out_number(&o, (uintptr_t)va_arg(ap, void *), 16, false, false,
				   width, zero, left);
			break;
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
	}
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int con_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = con_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void con_vprintf(const char *fmt, va_list ap)
{
	char line[CON_LINE_MAX];
	char out[CON_LINE_MAX * 2];
	size_t i, n = 0;
	int len;

	len = con_vsnprintf(line, sizeof(line), fmt, ap);
	if (len >= (int)sizeof(line))
		len = sizeof(line) - 1;
	for (i = 0; i < (size_t)len; i++) {
		if (line[i] == '\n')
			out[n++] = '\r';
		out[n++] = line[i];
	}
	serial_write(out, n);
}

void con_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	con_vprintf(fmt, ap);
	va_end(ap);
}
