/* SPDX-License-Identifier: GPL-2.0 */
/* The cases of fidelity_os.c (compiled with -Os). */
#ifndef FIDELITY_OS_H
#define FIDELITY_OS_H

int fid_elseif_os(const char *s);
int fid_clamp_os(int a, int b);

#endif
