// SPDX-License-Identifier: GPL-2.0
/* Growable arrays, a small hash map, the string table, per-thread errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void kpc_vec_init(struct kpc_vec *v, size_t esz)
{
	memset(v, 0, sizeof(*v));
	v->esz = esz;
}

void kpc_vec_free(struct kpc_vec *v)
{
	free(v->data);
	v->data = NULL;
	v->len = v->cap = 0;
}

void *kpc_vec_push(struct kpc_vec *v)
{
	void *e;

	if (v->len == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *d = reallocarray(v->data, cap, v->esz);

		if (!d)
			return NULL;
		v->data = d;
		v->cap = cap;
	}
	e = (char *)v->data + v->len++ * v->esz;
	memset(e, 0, v->esz);
	return e;
}

/* splitmix64 finaliser: keys are offsets and pointers, poorly spread. */
static uint64_t kpc_hash64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void kpc_map_free(struct kpc_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int kpc_map_grow(struct kpc_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256, i;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		size_t h;

		if (!m->keys[i])
			continue;
		for (h = kpc_hash64(m->keys[i]) & (cap - 1); keys[h]; h = (h + 1) & (cap - 1))
			;
		keys[h] = m->keys[i];
		vals[h] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

uint32_t *kpc_map_get(struct kpc_map *m, uint64_t key, uint32_t def, int *added)
{
	size_t h;

	if ((m->used + 1) * 2 > m->cap && kpc_map_grow(m))
		return NULL;
	for (h = kpc_hash64(key) & (m->cap - 1); m->keys[h]; h = (h + 1) & (m->cap - 1)) {
		if (m->keys[h] == key) {
			if (added)
				*added = 0;
			return &m->vals[h];
		}
	}
	m->keys[h] = key;
	m->vals[h] = def;
	m->used++;
	if (added)
		*added = 1;
	return &m->vals[h];
}

uint32_t kpc_map_find(const struct kpc_map *m, uint64_t key, uint32_t def)
{
	size_t h;

	if (!m->cap)
		return def;
	for (h = kpc_hash64(key) & (m->cap - 1); m->keys[h]; h = (h + 1) & (m->cap - 1))
		if (m->keys[h] == key)
			return m->vals[h];
	return def;
}

/* FNV-1a over n bytes. */
static uint64_t kpc_hash_str(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int kpc_strtab_init(struct kpc_strtab *st)
{
	memset(st, 0, sizeof(*st));
	st->cap = 4096;
	st->buf = malloc(st->cap);
	st->nslots = 1024;
	st->slots = calloc(st->nslots, sizeof(*st->slots));
	if (!st->buf || !st->slots) {
		kpc_strtab_free(st);
		return -ENOMEM;
	}
	st->buf[0] = '\0';
	st->len = 1;
	return 0;
}

void kpc_strtab_free(struct kpc_strtab *st)
{
	free(st->buf);
	free(st->slots);
	memset(st, 0, sizeof(*st));
}

static int kpc_strtab_rehash(struct kpc_strtab *st)
{
	size_t nslots = st->nslots * 2, i;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < st->nslots; i++) {
		const char *s;
		size_t h;

		if (!st->slots[i])
			continue;
		s = st->buf + st->slots[i] - 1;
		for (h = kpc_hash_str(s, strlen(s)) & (nslots - 1); slots[h]; h = (h + 1) & (nslots - 1))
			;
		slots[h] = st->slots[i];
	}
	free(st->slots);
	st->slots = slots;
	st->nslots = nslots;
	return 0;
}

int64_t kpc_strtab_addn(struct kpc_strtab *st, const char *s, size_t n)
{
	size_t h, off;

	if (!n)
		return 0;
	if ((st->used + 1) * 2 > st->nslots && kpc_strtab_rehash(st))
		return -ENOMEM;
	for (h = kpc_hash_str(s, n) & (st->nslots - 1); st->slots[h]; h = (h + 1) & (st->nslots - 1)) {
		const char *t = st->buf + st->slots[h] - 1;

		if (!strncmp(t, s, n) && t[n] == '\0')
			return st->slots[h] - 1;
	}
	if (st->len + n + 1 > UINT32_MAX - 1)
		return -EFBIG;
	if (st->len + n + 1 > st->cap) {
		size_t cap = st->cap * 2;
		char *buf;

		while (cap < st->len + n + 1)
			cap *= 2;
		buf = realloc(st->buf, cap);
		if (!buf)
			return -ENOMEM;
		st->buf = buf;
		st->cap = cap;
	}
	off = st->len;
	memcpy(st->buf + off, s, n);
	st->buf[off + n] = '\0';
	st->len += n + 1;
	st->slots[h] = off + 1;
	st->used++;
	return off;
}

int64_t kpc_strtab_add(struct kpc_strtab *st, const char *s)
{
	return s ? kpc_strtab_addn(st, s, strlen(s)) : 0;
}

static __thread char kpc_errbuf[512];

void kpc_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kpc_errbuf, sizeof(kpc_errbuf), fmt, ap);
	va_end(ap);
}

void kpc_clear_error(void)
{
	kpc_errbuf[0] = '\0';
}

KPC_EXPORT const char *kpc_last_error(void)
{
	return kpc_errbuf;
}

KPC_EXPORT void kpc_free(void *ptr)
{
	free(ptr);
}

char *kpc_path_join_norm(const char *dir, const char *name)
{
	size_t dl = (dir && name[0] != '/') ? strlen(dir) : 0;
	size_t nl = strlen(name), n = 0, i = 0;
	char *in = malloc(dl + nl + 2), *out;
	int abs;

	if (!in)
		return NULL;
	if (dl) {
		memcpy(in, dir, dl);
		in[dl] = '/';
		memcpy(in + dl + 1, name, nl + 1);
	} else {
		memcpy(in, name, nl + 1);
	}
	out = malloc(strlen(in) + 2);
	if (!out) {
		free(in);
		return NULL;
	}
	abs = in[0] == '/';
	if (abs)
		out[n++] = '/';
	while (in[i]) {
		size_t j = i, len;

		while (in[j] && in[j] != '/')
			j++;
		len = j - i;
		if (len == 0 || (len == 1 && in[i] == '.')) {
			/* skip */
		} else if (len == 2 && in[i] == '.' && in[i + 1] == '.') {
			/* fold "x/.." unless there is no x to fold */
			size_t start = abs ? 1 : 0;
			size_t k = n;

			if (n > start && !(n >= start + 2 && out[n - 1] == '.' && out[n - 2] == '.' &&
					   (n == start + 2 || out[n - 3] == '/'))) {
				while (k > start && out[k - 1] != '/')
					k--;
				n = k > start ? k - 1 : start;
			} else if (!abs) {
				if (n > start)
					out[n++] = '/';
				out[n++] = '.';
				out[n++] = '.';
			}
		} else {
			if (n > (abs ? 1u : 0u))
				out[n++] = '/';
			memcpy(out + n, in + i, len);
			n += len;
		}
		i = in[j] ? j + 1 : j;
	}
	if (n == 0)
		out[n++] = '.';
	out[n] = '\0';
	free(in);
	return out;
}
