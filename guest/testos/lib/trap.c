// SPDX-License-Identifier: Apache-2.0
/*
 * CPU exceptions. This is the only C code that runs in CPL0 (and so is
 * emulated, slowly, on PVM hosts): it reports the fault on the serial port
 * and writes EXIT_EXCEPTION to the debug-exit port, then halts.
 */
#include "io.h"
#include "testos.h"

/* Built by isr_common in traps.S. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

void trap_handle(struct trap_frame *f);

static const char *const trap_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
	"#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

extern char kstacks[];

static volatile int trap_nesting;

void trap_handle(struct trap_frame *f)
{
	uint64_t cr2;
	uintptr_t off = (uintptr_t)f - (uintptr_t)kstacks;
	unsigned int cpu = (unsigned int)(off / KSTACK_SIZE);

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	if (trap_nesting++ == 0) {
		con_printf("testos: FAIL exception %s vector=%lu err=0x%lx rip=0x%lx "
			   "cr2=0x%lx rsp=0x%lx cs=0x%lx rflags=0x%lx cpu=%u\n",
			   f->vector < 32 ? trap_names[f->vector] : "interrupt",
			   f->vector, f->error, f->rip, cr2, f->rsp, f->cs, f->rflags, cpu);
		con_printf("testos: regs rax=0x%lx rbx=0x%lx rcx=0x%lx rdx=0x%lx "
			   "rsi=0x%lx rdi=0x%lx rbp=0x%lx\n",
			   f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp);
		outb(0xf4, EXIT_EXCEPTION);
	}
	for (;;)
		__asm__ volatile("cli; hlt");
}
