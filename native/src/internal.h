/* SPDX-License-Identifier: GPL-2.0 */
/* libkprobecov internals: growable arrays, string interning, errors. */
#ifndef KPC_INTERNAL_H
#define KPC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "libkprobecov.h"

/* What the library exports; the preload library (preload/) compiles the same
 * sources with everything hidden but its own wrappers. */
#ifndef KPC_EXPORT
#define KPC_EXPORT __attribute__((visibility("default")))
#endif

/* A growable array of elements of `esz` bytes; zero-initialise to start. */
struct kpc_vec {
	void *data;
	size_t len;		/* elements in use */
	size_t cap;		/* elements allocated */
	size_t esz;		/* bytes per element */
};

void kpc_vec_init(struct kpc_vec *v, size_t esz);
void kpc_vec_free(struct kpc_vec *v);
/* Append one zeroed element; NULL when out of memory. */
void *kpc_vec_push(struct kpc_vec *v);
#define KPC_VEC_AT(v, type, i) (&((type *)(v)->data)[i])

/* Open-addressing map from a non-zero 64-bit key to a 32-bit value. */
struct kpc_map {
	uint64_t *keys;		/* 0: empty */
	uint32_t *vals;
	size_t cap;		/* power of two */
	size_t used;
};

void kpc_map_free(struct kpc_map *m);
/* Pointer to the value of key (never 0), inserting it with value `def`
 * if missing; *added tells which (may be NULL). NULL when out of memory. */
uint32_t *kpc_map_get(struct kpc_map *m, uint64_t key, uint32_t def, int *added);
/* Value of key, or `def` if missing. */
uint32_t kpc_map_find(const struct kpc_map *m, uint64_t key, uint32_t def);

/* String table: NUL-terminated strings, deduplicated; offset 0 is "". */
struct kpc_strtab {
	char *buf;
	size_t len;
	size_t cap;
	uint32_t *slots;	/* hash slots: offset + 1, 0 empty */
	size_t nslots;		/* power of two */
	size_t used;
};

int kpc_strtab_init(struct kpc_strtab *st);
void kpc_strtab_free(struct kpc_strtab *st);
/* Offset of s (NULL is ""), adding it if new. -ENOMEM, -EFBIG (> 4 GiB). */
int64_t kpc_strtab_add(struct kpc_strtab *st, const char *s);
int64_t kpc_strtab_addn(struct kpc_strtab *st, const char *s, size_t n);

/* Per-thread message for kpc_last_error(). */
void kpc_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kpc_clear_error(void);

/*
 * Normalise a path lexically into a malloc'd string: join a relative
 * `name` to `dir` (if dir is given), drop "." and empty components, fold
 * "x/..". NULL when out of memory.
 */
char *kpc_path_join_norm(const char *dir, const char *name);

#endif /* KPC_INTERNAL_H */
