/*
 * test_gguf.c - the GGUF reader and writer against files encoded by hand.
 *
 * The test encodes GGUF files itself, independently of the writer, and
 * checks that:
 *  1. the writer produces exactly those bytes, and everything it writes
 *     (every key type, string arrays with empty strings and NUL bytes,
 *     F32 and F16 tensors of 1 to 4 dimensions, special float values)
 *     reads back; a hand-encoded file holding every value type survives
 *     gguf_writer_copy_kv; half-precision conversion rounds to nearest even;
 *  2. a table of corruptions of a valid file, and the file cut short at
 *     every byte, each make gguf_open fail with one line that starts with
 *     the path and names the fault;
 *  3. the typed getters and the writer's own failures give clear messages.
 *
 * Usage: test_gguf [-v]   (-v prints every expected error message)
 * Exit status: 0 all checks passed, 1 a check failed, 99 the test could
 * not run (no temporary directory, no memory).
 */
#include "gguf.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct tally {
	int checks;
	int failures;
	bool verbose;
	char dir[PATH_MAX];           /* temporary directory for all files */
};

static struct tally tally;

static void __attribute__((format(printf, 2, 3)))
check(bool ok, const char *fmt, ...)
{
	va_list ap;

	tally.checks++;
	if (ok)
		return;
	tally.failures++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Remove the temporary directory and everything in it (one level deep). */
static void
remove_temp_dir(void)
{
	char path[PATH_MAX + 256];
	struct dirent *entry;
	DIR *dir;

	if (tally.dir[0] == '\0' || (dir = opendir(tally.dir)) == NULL)
		return;
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", tally.dir, entry->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	closedir(dir);
	rmdir(tally.dir);
	tally.dir[0] = '\0';
}

static void __attribute__((noreturn, format(printf, 1, 2)))
hard_error(const char *fmt, ...)
{
	va_list ap;

	printf("test_gguf: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	remove_temp_dir();
	exit(99);
}

static void
temp_path(char *buf, size_t size, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", tally.dir, name) >= size)
		hard_error("temporary path too long");
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL)
		hard_error("cannot create %s: %s", path, strerror(errno));
	if ((n > 0 && fwrite(data, 1, n, f) != n) | (fclose(f) != 0))
		hard_error("cannot write %s", path);
}

/* Read a whole file into a malloc'd buffer. */
static unsigned char *
read_bytes(const char *path, size_t *n)
{
	unsigned char *data;
	struct stat st;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0)
		hard_error("cannot read %s", path);
	*n = (size_t)st.st_size;
	if ((data = malloc(*n + 1)) == NULL)
		hard_error("out of memory");
	if (fread(data, 1, *n, f) != *n)
		hard_error("cannot read %s", path);
	fclose(f);
	return data;
}

/* splitmix64: a small, fixed random sequence for test data. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint32_t
float_bits(float f)
{
	uint32_t bits;

	memcpy(&bits, &f, sizeof bits);
	return bits;
}

static float
bits_float(uint32_t bits)
{
	float f;

	memcpy(&f, &bits, sizeof f);
	return f;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* ---- an independent GGUF encoder ------------------------------------- */

struct bytes {
	unsigned char *data;
	size_t length;
	size_t capacity;
};

/* Append n bytes; return the offset they start at. */
static size_t
put(struct bytes *b, const void *p, size_t n)
{
	size_t at = b->length;

	if (b->length + n > b->capacity) {
		size_t capacity = b->capacity ? b->capacity : 256;

		while (capacity < b->length + n)
			capacity *= 2;
		if ((b->data = realloc(b->data, capacity)) == NULL)
			hard_error("out of memory");
		b->capacity = capacity;
	}
	if (n > 0)
		memcpy(b->data + b->length, p, n);
	b->length += n;
	return at;
}

static size_t
put_u8(struct bytes *b, uint8_t v)
{
	return put(b, &v, 1);
}

static size_t
put_u16(struct bytes *b, uint16_t v)
{
	unsigned char p[2] = { v & 0xff, v >> 8 };

	return put(b, p, 2);
}

static size_t
put_u32(struct bytes *b, uint32_t v)
{
	unsigned char p[4];
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return put(b, p, 4);
}

static size_t
put_u64(struct bytes *b, uint64_t v)
{
	unsigned char p[8];
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return put(b, p, 8);
}

/* A GGUF string; returns the offset of its length field. */
static size_t
put_string(struct bytes *b, const char *s, size_t n)
{
	size_t at = put_u64(b, n);

	put(b, s, n);
	return at;
}

static void
put_padding(struct bytes *b, size_t alignment)
{
	while (b->length % alignment != 0)
		put_u8(b, 0);
}

/* ---- the base file that the corruptions start from -------------------- */

#define BASE_N_KV 7
#define BASE_N_TENSORS 3
#define BASE_DATA_BYTES 96            /* 24 + 10 + 16 bytes, each padded to 32 */

/* Where each field of the base file starts. */
struct layout {
	size_t magic;
	size_t version;
	size_t n_tensors;
	size_t n_kv;
	size_t key_length[BASE_N_KV];     /* the key's length field */
	size_t key_type[BASE_N_KV];
	size_t value[BASE_N_KV];          /* after the type */
	size_t word_length[3];            /* test.words elements */
	size_t kvs_end;
	size_t tensor_name[BASE_N_TENSORS];   /* the name's length field */
	size_t tensor_n_dims[BASE_N_TENSORS];
	size_t tensor_ne[BASE_N_TENSORS];
	size_t tensor_type[BASE_N_TENSORS];
	size_t tensor_offset[BASE_N_TENSORS];
	size_t infos_end;
	size_t data_start;
	size_t data_last;                 /* last byte of the last tensor */
	size_t data_end;                  /* one past it */
	size_t size;
};

static const char *const base_words[3] = { "one", "", "three" };
static const int32_t base_ids[3] = { 1, -2, 3 };
static const float base_a[6] = { 0.5f, -1.25f, 3.0f, 1e-3f, -7.5f, 1e6f };
/* F16 values exactly representable, with their halves written out. */
static const float base_b[5] = { 1.0f, -2.0f, 0.5f, 0x1p-24f, 65504.0f };
static const uint16_t base_b_half[5] = { 0x3c00, 0xc000, 0x3800, 0x0001,
    0x7bff };
static const float base_c[4] = { 2.0f, 4.0f, -8.0f, 16.0f };

static const struct {
	const char *name;
	enum gguf_tensor_type type;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];
	const float *data;
} base_tensors[BASE_N_TENSORS] = {
	{ "t.a", GGUF_TENSOR_F32, 2, { 3, 2, 1, 1 }, base_a },
	{ "t.b", GGUF_TENSOR_F16, 1, { 5, 1, 1, 1 }, base_b },
	{ "t.c", GGUF_TENSOR_F32, 4, { 2, 1, 1, 2 }, base_c },
};

static void
put_key(struct bytes *b, struct layout *at, int k, const char *name,
    enum gguf_type type)
{
	at->key_length[k] = put_string(b, name, strlen(name));
	at->key_type[k] = put_u32(b, type);
	at->value[k] = b->length;
}

static size_t
tensor_bytes(int i)
{
	size_t n = 1;
	uint32_t d;

	for (d = 0; d < base_tensors[i].n_dims; d++)
		n *= base_tensors[i].ne[d];
	return n * (base_tensors[i].type == GGUF_TENSOR_F32 ? 4 : 2);
}

static void
build_base(struct bytes *b, struct layout *at)
{
	uint64_t offset = 0;
	size_t j;
	uint32_t d;
	int i;

	memset(at, 0, sizeof *at);
	at->magic = put(b, GGUF_MAGIC, 4);
	at->version = put_u32(b, GGUF_VERSION);
	at->n_tensors = put_u64(b, BASE_N_TENSORS);
	at->n_kv = put_u64(b, BASE_N_KV);

	put_key(b, at, 0, "general.alignment", GGUF_TYPE_UINT32);
	put_u32(b, 32);
	put_key(b, at, 1, "general.architecture", GGUF_TYPE_STRING);
	put_string(b, "duo", 3);
	put_key(b, at, 2, "test.key_a", GGUF_TYPE_UINT32);
	put_u32(b, 7);
	put_key(b, at, 3, "test.key_b", GGUF_TYPE_INT32);
	put_u32(b, (uint32_t)-7);
	put_key(b, at, 4, "test.flag", GGUF_TYPE_BOOL);
	put_u8(b, 1);
	put_key(b, at, 5, "test.words", GGUF_TYPE_ARRAY);
	put_u32(b, GGUF_TYPE_STRING);
	put_u64(b, 3);
	for (i = 0; i < 3; i++)
		at->word_length[i] = put_string(b, base_words[i],
		    strlen(base_words[i]));
	put_key(b, at, 6, "test.ids", GGUF_TYPE_ARRAY);
	put_u32(b, GGUF_TYPE_INT32);
	put_u64(b, 3);
	for (i = 0; i < 3; i++)
		put_u32(b, (uint32_t)base_ids[i]);
	at->kvs_end = b->length;

	for (i = 0; i < BASE_N_TENSORS; i++) {
		at->tensor_name[i] = put_string(b, base_tensors[i].name,
		    strlen(base_tensors[i].name));
		at->tensor_n_dims[i] = put_u32(b, base_tensors[i].n_dims);
		at->tensor_ne[i] = b->length;
		for (d = 0; d < base_tensors[i].n_dims; d++)
			put_u64(b, base_tensors[i].ne[d]);
		at->tensor_type[i] = put_u32(b, base_tensors[i].type);
		at->tensor_offset[i] = put_u64(b, offset);
		offset += (tensor_bytes(i) + 31) / 32 * 32;
	}
	at->infos_end = b->length;
	put_padding(b, 32);
	at->data_start = b->length;
	for (i = 0; i < BASE_N_TENSORS; i++) {
		for (j = 0; j < tensor_bytes(i) / 4 && base_tensors[i].type ==
		    GGUF_TENSOR_F32; j++)
			put_u32(b, float_bits(base_tensors[i].data[j]));
		for (j = 0; j < tensor_bytes(i) / 2 && base_tensors[i].type ==
		    GGUF_TENSOR_F16; j++)
			put_u16(b, base_b_half[j]);
		at->data_end = b->length;
		put_padding(b, 32);
	}
	at->data_last = at->data_end - 1;
	at->size = b->length;
	if (at->size - at->data_start != BASE_DATA_BYTES)
		hard_error("base file data section is %zu bytes, the table "
		    "assumes %d", at->size - at->data_start, BASE_DATA_BYTES);
	/* The "alignment 1" row needs the tensor infos to end off a
	 * 4-byte boundary, so that t.a's F32 data lands misaligned. */
	if (at->infos_end % 4 == 0)
		hard_error("base file layout changed: tensor infos end at %zu",
		    at->infos_end);
}

/* Write the base file's content through the writer. */
static int
save_base_with_writer(const char *path, struct duo_error *err)
{
	struct gguf_writer *w = gguf_writer_new();
	int i, rc;

	gguf_writer_set_u32(w, "general.alignment", 32);
	gguf_writer_set_string(w, "general.architecture", "duo");
	gguf_writer_set_u32(w, "test.key_a", 7);
	gguf_writer_set_i32(w, "test.key_b", -7);
	gguf_writer_set_bool(w, "test.flag", 1);
	gguf_writer_set_string_array(w, "test.words", base_words, NULL, 3);
	gguf_writer_set_i32_array(w, "test.ids", base_ids, 3);
	for (i = 0; i < BASE_N_TENSORS; i++)
		gguf_writer_add_tensor(w, base_tensors[i].name,
		    base_tensors[i].type, base_tensors[i].n_dims,
		    base_tensors[i].ne, base_tensors[i].data);
	rc = gguf_writer_save(w, path, err);
	gguf_writer_free(w);
	return rc;
}

/* gguf_open must fail with one line "<path>: ...<expect>...". */
static void
check_open_fails(const char *path, const char *expect, const char *name,
    bool show)
{
	struct duo_error err = { "" };
	struct gguf_file file;
	size_t n = strlen(path);
	bool clean;
	int rc;

	rc = gguf_open(&file, path, &err);
	clean = rc == 0 || (file.map == NULL && file.kv == NULL &&
	    file.tensors == NULL && file.path == NULL);
	check(rc == -1 && strncmp(err.message, path, n) == 0 &&
	    err.message[n] == ':' && strstr(err.message, expect) != NULL &&
	    strchr(err.message, '\n') == NULL && clean,
	    "%s: gguf_open returned %d with message \"%s\"%s; expected -1 "
	    "and \"%s: ...%s...\"", name, rc, err.message,
	    clean ? "" : " and left memory behind", path, expect);
	if (show)
		printf("  %-34s %s\n", name, err.message);
	if (rc == 0)
		gguf_close(&file);
}

/* ---- 1. round trips ---------------------------------------------------- */

static void
test_base_file(const struct bytes *base, const struct layout *at)
{
	struct duo_error err = { "" };
	struct gguf_file file;
	const struct gguf_tensor *t;
	const struct gguf_kv *kv;
	unsigned char *written;
	char path[PATH_MAX + 64];
	char *arch = NULL;
	size_t n, first_diff;
	uint32_t u;
	int i;

	temp_path(path, sizeof path, "base-writer.gguf");
	check(save_base_with_writer(path, &err) == 0, "writer: %s",
	    err.message);
	written = read_bytes(path, &n);
	for (first_diff = 0; first_diff < n && first_diff < base->length;
	    first_diff++)
		if (written[first_diff] != base->data[first_diff])
			break;
	check(n == base->length && first_diff == n,
	    "writer output (%zu bytes) differs from the hand-encoded file "
	    "(%zu bytes) from byte %zu", n, base->length, first_diff);
	free(written);

	temp_path(path, sizeof path, "base.gguf");
	write_bytes(path, base->data, base->length);
	if (gguf_open(&file, path, &err) < 0) {
		check(false, "base file: %s", err.message);
		return;
	}
	check(file.version == 3 && file.n_kv == BASE_N_KV &&
	    file.n_tensors == BASE_N_TENSORS && file.alignment == 32 &&
	    file.data_offset == at->data_start && file.size == at->size,
	    "base file header: version %" PRIu32 ", %" PRIu64 " keys, %"
	    PRIu64 " tensors, alignment %" PRIu64 ", data at %" PRIu64,
	    file.version, file.n_kv, file.n_tensors, file.alignment,
	    file.data_offset);
	check(gguf_get_u32(&file, "test.key_a", &u, &err) == 0 && u == 7,
	    "base test.key_a: %s", err.message);
	check(gguf_get_string(&file, "general.architecture", &arch, &err) ==
	    0 && strcmp(arch, "duo") == 0, "base architecture: %s",
	    err.message);
	free(arch);
	kv = gguf_find_kv(&file, "test.words");
	check(kv != NULL && kv->array_count == 3 &&
	    kv->strings[1].length == 0 && kv->strings[2].length == 5 &&
	    memcmp(kv->strings[2].data, "three", 5) == 0 &&
	    (size_t)(kv->value - file.map) == at->word_length[0],
	    "base test.words read wrong");
	for (i = 0; i < BASE_N_TENSORS; i++) {
		t = gguf_find_tensor(&file, base_tensors[i].name);
		check(t != NULL && t->n_bytes == tensor_bytes(i) &&
		    (const unsigned char *)t->data == file.map +
		    at->data_start + 32 * (size_t)i,
		    "base tensor %s placed wrong", base_tensors[i].name);
	}
	t = gguf_find_tensor(&file, "t.b");
	for (i = 0; t != NULL && i < 5; i++)
		check(gguf_f16_to_f32((uint16_t)(((const unsigned char *)
		    t->data)[2 * i] | ((const unsigned char *)t->data)[2 * i +
		    1] << 8)) == base_b[i], "base t.b[%d] reads wrong", i);
	check(gguf_find_kv(&file, "test.missing") == NULL &&
	    gguf_find_tensor(&file, "t.d") == NULL &&
	    gguf_find_tensor(&file, "t.") == NULL,
	    "lookups of absent names must return NULL");
	gguf_close(&file);
}

#define N_SPECIAL 20

/* Values that exercise F16 rounding, overflow and subnormals. */
static const float special_values[N_SPECIAL] = {
	0.0f, -0.0f, 1.0f, -2.0f, 65504.0f, 65519.0f, 65520.0f, -1e6f,
	INFINITY, -INFINITY, NAN, 0x1p-24f, 0x1p-25f, 0x1.8p-24f, 0x1p-14f,
	0x1.ffep-15f, 1.0f / 3.0f, 1e-45f, FLT_MAX, 2049.0f,
};

static const struct {
	const char *name;
	enum gguf_tensor_type type;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];
} round_trip_tensors[] = {
	{ "w.1d", GGUF_TENSOR_F32, 1, { 7, 1, 1, 1 } },
	{ "w.2d", GGUF_TENSOR_F16, 2, { 5, 3, 1, 1 } },
	{ "w.3d", GGUF_TENSOR_F32, 3, { 2, 3, 4, 1 } },
	{ "w.4d", GGUF_TENSOR_F16, 4, { 3, 1, 2, 2 } },
	{ "w.4d.f32", GGUF_TENSOR_F32, 4, { 2, 2, 2, 2 } },
	{ "w.big.f16", GGUF_TENSOR_F16, 2, { 1000, 37, 1, 1 } },
	{ "w.special.f16", GGUF_TENSOR_F16, 1, { N_SPECIAL, 1, 1, 1 } },
	{ "w.special.f32", GGUF_TENSOR_F32, 1, { N_SPECIAL, 1, 1, 1 } },
};
#define N_ROUND_TRIP (sizeof round_trip_tensors / sizeof round_trip_tensors[0])

static const char *const words[] = { "The", "", "small module", "a\0b",
    "" };
static const size_t word_lengths[] = { 3, 0, 12, 3, 0 };
static const int32_t ints[] = { INT32_MIN, -1, 0, 1, INT32_MAX };

static float *
round_trip_data(size_t i, uint64_t *state)
{
	size_t j, n = 1;
	float *data;

	for (j = 0; j < round_trip_tensors[i].n_dims; j++)
		n *= round_trip_tensors[i].ne[j];
	if ((data = malloc(n * sizeof *data)) == NULL)
		hard_error("out of memory");
	for (j = 0; j < n; j++) {
		if (strncmp(round_trip_tensors[i].name, "w.special", 9) == 0)
			data[j] = special_values[j];
		else
			data[j] = (float)((int64_t)(next_random(state) >> 40) -
			    (1 << 23)) * 0x1p-21f;   /* in [-4, 4) */
	}
	return data;
}

/*
 * A half read back for x must be x rounded to half precision: within half
 * a unit in the last place, i.e. |y - x| <= 2^-11 |x| for normal halves
 * and <= 2^-25 below 2^-14 (spacing 2^-24); inf from 65520 up; NaN kept.
 */
static bool
half_close(float x, float y)
{
	if (isnan(x))
		return isnan(y);
	if (fabsf(x) >= 65520.0f)
		return isinf(y) && signbit(x) == signbit(y);
	if (signbit(x) != signbit(y))
		return false;
	if (fabsf(x) < 0x1p-14f)
		return fabs((double)y - x) <= 0x1p-25;
	return fabs((double)y - x) <= 0x1p-11 * fabs((double)x);
}

static void
test_round_trip(void)
{
	struct duo_error err = { "" };
	struct gguf_writer *w;
	struct gguf_file file;
	const struct gguf_tensor *t;
	const struct gguf_kv *kv;
	float *data[N_ROUND_TRIP];
	float floats[8] = { 0.0f, -0.0f, 1e-40f, INFINITY, -INFINITY, 3.25f,
	    FLT_MAX, NAN };
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	uint64_t state = 42, n, j;
	char *s = NULL;
	uint32_t u, d;
	float f;
	size_t i;

	for (i = 0; i < N_ROUND_TRIP; i++)
		data[i] = round_trip_data(i, &state);
	w = gguf_writer_new();
	gguf_writer_set_u32(w, "rt.u32", 4000000000u);
	gguf_writer_set_i32(w, "duo.block_count", -12);
	gguf_writer_set_u64(w, "rt.u64", (1ull << 40) + 5);
	gguf_writer_set_f32(w, "rt.f32", -1.5e-3f);
	gguf_writer_set_bool(w, "rt.true", 1);
	gguf_writer_set_bool(w, "rt.false", 0);
	gguf_writer_set_string(w, "rt.string", "A plain sentence about routes.");
	gguf_writer_set_string(w, "rt.empty", "");
	gguf_writer_set_string_array(w, "rt.words", words, word_lengths, 5);
	gguf_writer_set_string_array(w, "rt.no_words", NULL, NULL, 0);
	gguf_writer_set_i32_array(w, "rt.ints", ints, 5);
	gguf_writer_set_i32_array(w, "rt.no_ints", NULL, 0);
	gguf_writer_set_f32_array(w, "rt.floats", floats, 8);
	/* Setting again replaces, even with another type. */
	gguf_writer_set_u32(w, "rt.replaced", 1);
	gguf_writer_set_u32(w, "rt.replaced", 2);
	gguf_writer_set_i32(w, "rt.retyped", 5);
	gguf_writer_set_string(w, "rt.retyped", "now a string");
	for (i = 0; i < N_ROUND_TRIP; i++)
		gguf_writer_add_tensor(w, round_trip_tensors[i].name,
		    round_trip_tensors[i].type, round_trip_tensors[i].n_dims,
		    round_trip_tensors[i].ne, data[i]);
	temp_path(path, sizeof path, "round-trip.gguf");
	check(gguf_writer_save(w, path, &err) == 0, "save: %s", err.message);
	gguf_writer_free(w);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	check(!file_exists(tmp), "save left %s behind", tmp);

	if (gguf_open(&file, path, &err) < 0) {
		check(false, "round trip: %s", err.message);
		goto out;
	}
	/* 15 keys set plus general.alignment added by the writer. */
	check(file.n_kv == 16 && file.n_tensors == N_ROUND_TRIP &&
	    file.alignment == 32 && file.data_offset % 32 == 0,
	    "round trip header: %" PRIu64 " keys, %" PRIu64 " tensors, "
	    "alignment %" PRIu64, file.n_kv, file.n_tensors, file.alignment);
	check(gguf_get_u32(&file, "general.alignment", &u, &err) == 0 &&
	    u == 32, "general.alignment: %s", err.message);
	check(gguf_get_u32(&file, "rt.u32", &u, &err) == 0 && u == 4000000000u,
	    "rt.u32: %s", err.message);
	kv = gguf_find_kv(&file, "duo.block_count");
	check(kv && kv->type == GGUF_TYPE_INT32 &&
	    (int32_t)le32(kv->value) == -12, "duo.block_count read wrong");
	kv = gguf_find_kv(&file, "rt.u64");
	check(kv && kv->type == GGUF_TYPE_UINT64 &&
	    le32(kv->value) == 5 && le32(kv->value + 4) == 256,
	    "rt.u64 read wrong");
	check(gguf_get_f32(&file, "rt.f32", &f, &err) == 0 &&
	    float_bits(f) == float_bits(-1.5e-3f), "rt.f32: %s", err.message);
	kv = gguf_find_kv(&file, "rt.true");
	check(kv && kv->type == GGUF_TYPE_BOOL && kv->value[0] == 1,
	    "rt.true read wrong");
	kv = gguf_find_kv(&file, "rt.false");
	check(kv && kv->type == GGUF_TYPE_BOOL && kv->value[0] == 0,
	    "rt.false read wrong");
	check(gguf_get_string(&file, "rt.string", &s, &err) == 0 &&
	    strcmp(s, "A plain sentence about routes.") == 0, "rt.string: %s",
	    err.message);
	free(s);
	s = NULL;
	check(gguf_get_string(&file, "rt.empty", &s, &err) == 0 &&
	    s[0] == '\0', "rt.empty: %s", err.message);
	free(s);
	s = NULL;
	check(gguf_get_array(&file, "rt.words", GGUF_TYPE_STRING, &kv, &err) ==
	    0 && kv->array_count == 5, "rt.words: %s", err.message);
	for (i = 0; i < 5 && kv && kv->array_count == 5; i++)
		check(kv->strings[i].length == word_lengths[i] &&
		    memcmp(kv->strings[i].data, words[i], word_lengths[i]) == 0,
		    "rt.words[%zu] read wrong", i);
	check(gguf_get_array(&file, "rt.no_words", GGUF_TYPE_STRING, &kv,
	    &err) == 0 && kv->array_count == 0, "rt.no_words: %s", err.message);
	check(gguf_get_array(&file, "rt.ints", GGUF_TYPE_INT32, &kv, &err) ==
	    0 && kv->array_count == 5, "rt.ints: %s", err.message);
	for (i = 0; i < 5 && kv && kv->array_count == 5; i++)
		check((int32_t)le32(kv->value + 4 * i) == ints[i],
		    "rt.ints[%zu] read wrong", i);
	check(gguf_get_array(&file, "rt.no_ints", GGUF_TYPE_INT32, &kv, &err) ==
	    0 && kv->array_count == 0, "rt.no_ints: %s", err.message);
	check(gguf_get_array(&file, "rt.floats", GGUF_TYPE_FLOAT32, &kv,
	    &err) == 0 && kv->array_count == 8, "rt.floats: %s", err.message);
	for (i = 0; i < 8 && kv && kv->array_count == 8; i++)
		check(le32(kv->value + 4 * i) == float_bits(floats[i]),
		    "rt.floats[%zu]: bits differ (exact comparison)", i);
	check(gguf_get_u32(&file, "rt.replaced", &u, &err) == 0 && u == 2,
	    "rt.replaced: %s", err.message);
	check(gguf_get_string(&file, "rt.retyped", &s, &err) == 0 &&
	    strcmp(s, "now a string") == 0, "rt.retyped: %s", err.message);
	free(s);

	for (i = 0; i < N_ROUND_TRIP; i++) {
		const char *name = round_trip_tensors[i].name;
		bool same_shape = true;

		t = gguf_find_tensor(&file, name);
		if (t == NULL) {
			check(false, "tensor %s is missing", name);
			continue;
		}
		for (d = 0; d < GGUF_MAX_DIMS; d++)
			same_shape &= t->ne[d] == round_trip_tensors[i].ne[d];
		check(t->n_dims == round_trip_tensors[i].n_dims && same_shape &&
		    t->type == round_trip_tensors[i].type &&
		    t->offset % 32 == 0 && (uintptr_t)t->data % 32 == 0,
		    "tensor %s: wrong shape, type or alignment", name);
		n = t->n_elements;
		for (j = 0; j < n; j++) {
			const unsigned char *p = t->data;
			float x = data[i][j], y;

			if (t->type == GGUF_TENSOR_F32) {
				if (le32(p + 4 * j) != float_bits(x))
					break;
				continue;
			}
			y = gguf_f16_to_f32((uint16_t)(p[2 * j] |
			    p[2 * j + 1] << 8));
			if (!half_close(x, y))
				break;
		}
		check(j == n, "tensor %s element %" PRIu64 " reads back wrong "
		    "(F32 exact; F16 within half an ulp of half precision)",
		    name, j);
	}
	t = gguf_find_tensor(&file, "w.special.f16");
	if (t != NULL) {
		/* Exact halves for the special values, in table order. */
		static const uint16_t expected[N_SPECIAL] = {
			0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x7bff, 0x7c00,
			0xfc00, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x0000, 0x0002,
			0x0400, 0x0400, 0x3555, 0x0000, 0x7c00, 0x6800,
		};
		const unsigned char *p = t->data;

		for (j = 0; j < N_SPECIAL; j++) {
			uint16_t h = (uint16_t)(p[2 * j] | p[2 * j + 1] << 8);

			check(j == 10 ? (h & 0x7c00) == 0x7c00 && (h & 0x3ff) :
			    h == expected[j], "special value %a stored as half "
			    "0x%04x, expected 0x%04x", special_values[j], h,
			    expected[j]);
		}
	}
	gguf_close(&file);
	gguf_close(&file);  /* closing twice is harmless */
out:
	for (i = 0; i < N_ROUND_TRIP; i++)
		free(data[i]);
}

/* ---- every value type, through gguf_writer_copy_kv ------------------- */

#define N_TYPED 26

/* Hand-encode one key of every scalar type and an array of every type. */
static void
build_all_types(struct bytes *b, size_t value_at[N_TYPED])
{
	static const char *const array_words[3] = { "x", "", "y\0z" };
	static const size_t array_lengths[3] = { 1, 0, 3 };
	static const size_t sizes[GGUF_TYPE_COUNT] = {
		1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8,
	};
	char name[64];
	int k = 0, type;
	size_t i;

	put(b, GGUF_MAGIC, 4);
	put_u32(b, GGUF_VERSION);
	put_u64(b, 0);
	put_u64(b, N_TYPED);

#define KEY(n, t) do { \
	put_string(b, n, strlen(n)); \
	put_u32(b, t); \
	value_at[k++] = b->length; \
} while (0)
	KEY("t.uint8", GGUF_TYPE_UINT8);
	put_u8(b, 200);
	KEY("t.int8", GGUF_TYPE_INT8);
	put_u8(b, (uint8_t)-100);
	KEY("t.uint16", GGUF_TYPE_UINT16);
	put_u16(b, 60000);
	KEY("t.int16", GGUF_TYPE_INT16);
	put_u16(b, (uint16_t)-30000);
	KEY("t.uint32", GGUF_TYPE_UINT32);
	put_u32(b, 4000000000u);
	KEY("t.int32", GGUF_TYPE_INT32);
	put_u32(b, (uint32_t)-2000000000);
	KEY("t.float32", GGUF_TYPE_FLOAT32);
	put_u32(b, float_bits(0.15625f));
	KEY("t.bool", GGUF_TYPE_BOOL);
	put_u8(b, 1);
	KEY("t.string", GGUF_TYPE_STRING);
	put_string(b, "a\0b", 3);
	KEY("t.uint64", GGUF_TYPE_UINT64);
	put_u64(b, 0xfedcba9876543210u);
	KEY("t.int64", GGUF_TYPE_INT64);
	put_u64(b, (uint64_t)INT64_MIN);
	KEY("t.float64", GGUF_TYPE_FLOAT64);
	put_u64(b, 0xc004000000000000u);   /* -2.5 */
	for (type = 0; type < GGUF_TYPE_COUNT; type++) {
		if (type == GGUF_TYPE_ARRAY)
			continue;
		snprintf(name, sizeof name, "t.array.%s",
		    gguf_type_name((enum gguf_type)type));
		KEY(name, GGUF_TYPE_ARRAY);
		put_u32(b, (uint32_t)type);
		put_u64(b, 3);
		if (type == GGUF_TYPE_STRING)
			for (i = 0; i < 3; i++)
				put_string(b, array_words[i], array_lengths[i]);
		else if (type == GGUF_TYPE_BOOL)
			for (i = 0; i < 3; i++)
				put_u8(b, i > 0);
		else
			for (i = 0; i < 3 * sizes[type]; i++)
				put_u8(b, (uint8_t)(0x80 + 7 * i + type));
	}
	KEY("t.array.empty", GGUF_TYPE_ARRAY);
	put_u32(b, GGUF_TYPE_UINT16);
	put_u64(b, 0);
	KEY("t.array.no_strings", GGUF_TYPE_ARRAY);
	put_u32(b, GGUF_TYPE_STRING);
	put_u64(b, 0);
#undef KEY
	if (k != N_TYPED)
		hard_error("all-types file holds %d keys, expected %d", k,
		    N_TYPED);
}

/* Two keys hold the same type and bytes. */
static bool
same_kv(const struct gguf_kv *a, const struct gguf_kv *b)
{
	static const size_t sizes[GGUF_TYPE_COUNT] = {
		1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8,
	};
	uint64_t i;

	if (a->type != b->type)
		return false;
	if (a->type == GGUF_TYPE_STRING)
		return a->strings[0].length == b->strings[0].length &&
		    memcmp(a->strings[0].data, b->strings[0].data,
		    (size_t)a->strings[0].length) == 0;
	if (a->type != GGUF_TYPE_ARRAY)
		return memcmp(a->value, b->value, sizes[a->type]) == 0;
	if (a->array_type != b->array_type || a->array_count != b->array_count)
		return false;
	if (a->array_type != GGUF_TYPE_STRING)
		return memcmp(a->value, b->value,
		    (size_t)a->array_count * sizes[a->array_type]) == 0;
	for (i = 0; i < a->array_count; i++)
		if (a->strings[i].length != b->strings[i].length ||
		    memcmp(a->strings[i].data, b->strings[i].data,
		    (size_t)a->strings[i].length) != 0)
			return false;
	return true;
}

static void
test_all_types(void)
{
	struct duo_error err = { "" };
	struct bytes b = { NULL, 0, 0 };
	struct gguf_file file, copy;
	struct gguf_writer *w;
	const struct gguf_kv *kv, *other;
	size_t value_at[N_TYPED];
	char path[PATH_MAX + 64], copy_path[PATH_MAX + 64];
	char name[64], *s = NULL;
	uint64_t i;

	build_all_types(&b, value_at);
	temp_path(path, sizeof path, "all-types.gguf");
	write_bytes(path, b.data, b.length);
	free(b.data);
	if (gguf_open(&file, path, &err) < 0) {
		check(false, "all types: %s", err.message);
		return;
	}
	check(file.n_kv == N_TYPED && file.n_tensors == 0,
	    "all types: %" PRIu64 " keys", file.n_kv);
	/* An array's value is its first element, after type and count. */
	for (i = 0; i < file.n_kv && i < N_TYPED; i++) {
		size_t want = value_at[i] +
		    (file.kv[i].type == GGUF_TYPE_ARRAY ? 12 : 0);

		check((size_t)(file.kv[i].value - file.map) == want,
		    "key %" PRIu64 " value at byte %zu, expected %zu", i,
		    (size_t)(file.kv[i].value - file.map), want);
	}
	kv = gguf_find_kv(&file, "t.int64");
	check(kv && kv->type == GGUF_TYPE_INT64 && kv->value[7] == 0x80 &&
	    kv->value[0] == 0, "t.int64 read wrong");
	kv = gguf_find_kv(&file, "t.string");
	check(kv && kv->strings[0].length == 3 &&
	    memcmp(kv->strings[0].data, "a\0b", 3) == 0,
	    "t.string with a NUL byte read wrong");
	check(gguf_get_string(&file, "t.string", &s, &err) == -1 &&
	    strstr(err.message, "key 't.string' holds a string with a NUL "
	    "byte") != NULL, "gguf_get_string accepted a NUL byte: \"%s\"",
	    err.message);
	free(s);
	snprintf(name, sizeof name, "t.array.%s", gguf_type_name(
	    GGUF_TYPE_STRING));
	kv = gguf_find_kv(&file, name);
	check(kv && kv->array_count == 3 && kv->strings[2].length == 3 &&
	    memcmp(kv->strings[2].data, "y\0z", 3) == 0,
	    "string array with a NUL byte read wrong");

	w = gguf_writer_new();
	check(gguf_writer_copy_kv(w, &file, &err) == 0, "copy_kv: %s",
	    err.message);
	temp_path(copy_path, sizeof copy_path, "all-types-copy.gguf");
	check(gguf_writer_save(w, copy_path, &err) == 0, "save copy: %s",
	    err.message);
	gguf_writer_free(w);
	if (gguf_open(&copy, copy_path, &err) < 0) {
		check(false, "copy: %s", err.message);
		gguf_close(&file);
		return;
	}
	check(copy.n_kv == file.n_kv + 1, "copy holds %" PRIu64 " keys, "
	    "expected %" PRIu64 " and general.alignment", copy.n_kv, file.n_kv);
	for (i = 0; i < file.n_kv; i++) {
		kv = &file.kv[i];
		snprintf(name, sizeof name, "%.*s", (int)kv->key.length,
		    kv->key.data);
		other = gguf_find_kv(&copy, name);
		check(other != NULL && same_kv(kv, other),
		    "key %s differs after gguf_writer_copy_kv", name);
	}
	gguf_close(&copy);
	gguf_close(&file);
}

/* ---- half precision ---------------------------------------------------- */

#ifdef __FLT16_MAX__
/* The compiler's own conversion, an independent reference. */
static uint16_t
reference_f32_to_f16(float f)
{
	_Float16 h = (_Float16)f;
	uint16_t bits;

	memcpy(&bits, &h, sizeof bits);
	return bits;
}

static float
reference_f16_to_f32(uint16_t bits)
{
	_Float16 h;

	memcpy(&h, &bits, sizeof h);
	return (float)h;
}
#endif

static bool
half_is_nan(uint16_t h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

static void
test_half(void)
{
	uint32_t h, bad_round_trip = 0x10000, bad_midpoint = 0x10000;
	uint32_t bad_reference = 0x10000;
	uint64_t state = 7, i, bad_random = 0;
	bool nan_ok = true;

	for (h = 0; h < 0x10000; h++) {
		float f = gguf_f16_to_f32((uint16_t)h);

		if (half_is_nan((uint16_t)h)) {
			nan_ok &= isnan(f) &&
			    half_is_nan(gguf_f32_to_f16(f)) &&
			    (gguf_f32_to_f16(f) & 0x8000) == (h & 0x8000);
			continue;
		}
		if (gguf_f32_to_f16(f) != h && bad_round_trip == 0x10000)
			bad_round_trip = h;
#ifdef __FLT16_MAX__
		if (float_bits(f) != float_bits(reference_f16_to_f32(
		    (uint16_t)h)) && bad_reference == 0x10000)
			bad_reference = h;
#endif
		/* Between h and the next half up (same sign): the midpoint
		 * goes to the even one, anything off it to the nearer. */
		if ((h & 0x7fff) < 0x7c00) {
			float next = gguf_f16_to_f32((uint16_t)(h + 1)), mid;
			uint32_t even = h & 1 ? h + 1 : h;

			/* Past 65504 the next step would be 65536. */
			if ((h & 0x7fff) == 0x7bff)
				next = signbit(f) ? -65536.0f : 65536.0f;
			mid = (float)(((double)f + next) / 2);
			if ((gguf_f32_to_f16(mid) != even ||
			    gguf_f32_to_f16(nextafterf(mid, 0.0f)) != h ||
			    gguf_f32_to_f16(nextafterf(mid, 2 * next)) !=
			    h + 1) && bad_midpoint == 0x10000)
				bad_midpoint = h;
		}
	}
	check(nan_ok, "a NaN half did not stay NaN with its sign");
	check(bad_round_trip == 0x10000, "half 0x%04" PRIx32 " does not "
	    "survive f16 -> f32 -> f16 (must be exact)", bad_round_trip);
	check(bad_midpoint == 0x10000, "rounding near half 0x%04" PRIx32
	    " is not round-to-nearest-even", bad_midpoint);
#ifdef __FLT16_MAX__
	check(bad_reference == 0x10000, "half 0x%04" PRIx32 " widens "
	    "differently from the compiler's _Float16", bad_reference);
	/* Random float bit patterns, all classes, against _Float16. */
	for (i = 0; i < 2000000; i++) {
		float f = bits_float((uint32_t)next_random(&state));
		uint16_t got = gguf_f32_to_f16(f), want = reference_f32_to_f16(f);

		if (isnan(f) ? !half_is_nan(got) : got != want) {
			if (bad_random == 0)
				printf("  %a: got 0x%04x, _Float16 gives "
				    "0x%04x\n", f, got, want);
			bad_random++;
		}
	}
	check(bad_random == 0, "%" PRIu64 " of 2000000 random floats narrow "
	    "differently from the compiler's _Float16 (must be exact)",
	    bad_random);
#endif
}

/* ---- 2. corrupt files -------------------------------------------------- */

enum edit { EDIT_CUT, EDIT_U8, EDIT_U32, EDIT_U64, EDIT_TEXT };

/* One corruption of the base file: at a field (plus skip bytes), do edit. */
struct corruption {
	const char *name;
	size_t field;                 /* offsetof(struct layout, ...) */
	size_t skip;
	enum edit edit;
	uint64_t value;
	const char *text;
	const char *expect;           /* in the message after "<path>: " */
};

#define AT(member) offsetof(struct layout, member)

static const struct corruption corruptions[] = {
	{ "empty file", AT(magic), 0, EDIT_CUT, 0, NULL, "empty file" },
	{ "one byte", AT(magic), 1, EDIT_CUT, 0, NULL,
	    "too small for a GGUF header (1 bytes" },
	{ "cut inside the header", AT(n_kv), 4, EDIT_CUT, 0, NULL,
	    "too small for a GGUF header (20 bytes" },
	{ "cut after the header", AT(key_length[0]), 0, EDIT_CUT, 0, NULL,
	    "cannot fit before the end of the file" },
	{ "cut inside a key", AT(key_type[3]), 2, EDIT_CUT, 0, NULL,
	    "cannot fit before the end of the file" },
	{ "cut inside the last key", AT(value[6]), 20, EDIT_CUT, 0, NULL,
	    "key 'test.ids': array of 3 int32 values from byte" },
	{ "cut after the keys", AT(kvs_end), 0, EDIT_CUT, 0, NULL,
	    "tensor 0: name (8 bytes from byte" },
	{ "cut inside a shape", AT(tensor_ne[2]), 4, EDIT_CUT, 0, NULL,
	    "tensor 't.c': shape (8 bytes from byte" },
	{ "cut after the tensor infos", AT(infos_end), 0, EDIT_CUT, 0, NULL,
	    "past the end of the file" },
	{ "cut at the data section", AT(data_start), 0, EDIT_CUT, 0, NULL,
	    "data ends at byte" },
	{ "cut inside the last tensor", AT(data_last), 0, EDIT_CUT, 0, NULL,
	    "tensor 't.c' data ends at byte" },

	{ "bad magic", AT(magic), 0, EDIT_TEXT, 0, "FUGG",
	    "not a GGUF file (starts with bytes 46 55 47 47" },
	{ "version 0", AT(version), 0, EDIT_U32, 0, NULL,
	    "unsupported GGUF version 0" },
	{ "version 1", AT(version), 0, EDIT_U32, 1, NULL,
	    "GGUF version 1 is too old" },
	{ "version 2", AT(version), 0, EDIT_U32, 2, NULL,
	    "GGUF version 2 is too old" },
	{ "version 4", AT(version), 0, EDIT_U32, 4, NULL,
	    "unsupported GGUF version 4" },
	{ "big-endian version", AT(version), 0, EDIT_U32, 0x03000000, NULL,
	    "looks big-endian" },
	{ "huge n_tensors", AT(n_tensors), 0, EDIT_U64, UINT64_MAX, NULL,
	    "18446744073709551615 tensors, which cannot fit" },
	{ "n_tensors beyond the file", AT(n_tensors), 0, EDIT_U64, 1000, NULL,
	    "1000 tensors, which cannot fit" },
	{ "huge n_kv", AT(n_kv), 0, EDIT_U64, UINT64_MAX, NULL,
	    "18446744073709551615 keys" },
	{ "n_kv 2^62", AT(n_kv), 0, EDIT_U64, 1ull << 62, NULL,
	    "cannot fit before the end of the file" },

	{ "huge key length", AT(key_length[2]), 0, EDIT_U64, 1ull << 62, NULL,
	    "key 2: name (4611686018427387904 bytes from byte" },
	{ "key length 2^64-1", AT(key_length[2]), 0, EDIT_U64, UINT64_MAX,
	    NULL, "runs past the end of the file" },
	{ "empty key", AT(key_length[2]), 0, EDIT_U64, 0, NULL,
	    "key 2: empty name" },
	{ "NUL in a key", AT(key_length[2]), 12, EDIT_U8, 0, NULL,
	    "key 2: name contains a NUL byte" },
	{ "duplicate key", AT(key_length[3]), 8, EDIT_TEXT, 0, "test.key_a",
	    "duplicate key 'test.key_a'" },
	{ "bad value type", AT(key_type[2]), 0, EDIT_U32, GGUF_TYPE_COUNT,
	    NULL, "key 'test.key_a': invalid value type 13" },
	{ "value type 2^32-1", AT(key_type[2]), 0, EDIT_U32, UINT32_MAX, NULL,
	    "invalid value type 4294967295" },
	{ "bool neither 0 nor 1", AT(value[4]), 0, EDIT_U8, 2, NULL,
	    "key 'test.flag': bool value 2" },
	{ "huge string length", AT(value[1]), 0, EDIT_U64, 1ull << 62, NULL,
	    "key 'general.architecture': string value (4611686018427387904 "
	    "bytes" },
	{ "bad array element type", AT(value[6]), 0, EDIT_U32, 13, NULL,
	    "key 'test.ids': invalid array element type 13" },
	{ "array of arrays", AT(value[6]), 0, EDIT_U32, GGUF_TYPE_ARRAY, NULL,
	    "array of arrays" },
	{ "huge array count", AT(value[6]), 4, EDIT_U64, UINT64_MAX, NULL,
	    "array of 18446744073709551615 int32 values" },
	{ "array bytes overflow", AT(value[6]), 4, EDIT_U64, 1ull << 62, NULL,
	    "array of 4611686018427387904 int32 values from byte" },
	{ "array count one too many", AT(value[6]), 4, EDIT_U64, 4, NULL,
	    "tensor 0: name (" },
	{ "huge string array count", AT(value[5]), 4, EDIT_U64, UINT64_MAX,
	    NULL, "array of 18446744073709551615 strings cannot fit" },
	{ "huge string in an array", AT(word_length[1]), 0, EDIT_U64,
	    1ull << 62, NULL, "key 'test.words': string 1 (" },
	{ "alignment of type int32", AT(key_type[0]), 0, EDIT_U32,
	    GGUF_TYPE_INT32, NULL,
	    "key 'general.alignment' has type int32, expected uint32" },
	{ "alignment 48", AT(value[0]), 0, EDIT_U32, 48, NULL,
	    "key 'general.alignment' is 48, which is not a power of two" },
	{ "alignment 0", AT(value[0]), 0, EDIT_U32, 0, NULL,
	    "is 0, which is not a power of two" },
	{ "alignment 1 misaligns F32 data", AT(value[0]), 0, EDIT_U32, 1, NULL,
	    "tensor 't.a' data at byte" },

	{ "duplicate tensor name", AT(tensor_name[1]), 8, EDIT_TEXT, 0, "t.a",
	    "duplicate tensor name 't.a'" },
	{ "empty tensor name", AT(tensor_name[1]), 0, EDIT_U64, 0, NULL,
	    "tensor 1: empty name" },
	{ "NUL in a tensor name", AT(tensor_name[1]), 9, EDIT_U8, 0, NULL,
	    "tensor 1: name contains a NUL byte" },
	{ "huge tensor name length", AT(tensor_name[0]), 0, EDIT_U64,
	    1ull << 62, NULL, "tensor 0: name (" },
	{ "0 dimensions", AT(tensor_n_dims[0]), 0, EDIT_U32, 0, NULL,
	    "tensor 't.a': 0 dimensions; duo reads 1 to 4" },
	{ "5 dimensions", AT(tensor_n_dims[2]), 0, EDIT_U32, 5, NULL,
	    "tensor 't.c': 5 dimensions; duo reads 1 to 4" },
	{ "dimension of size 0", AT(tensor_ne[0]), 8, EDIT_U64, 0, NULL,
	    "tensor 't.a': dimension 1 has size 0" },
	{ "element count overflows", AT(tensor_ne[0]), 0, EDIT_U64, 1ull << 63,
	    NULL, "shape 9223372036854775808 x 2 has more elements than 64" },
	{ "byte count overflows", AT(tensor_ne[1]), 0, EDIT_U64, 1ull << 63,
	    NULL, "tensor 't.b': shape 9223372036854775808 needs more bytes" },
	{ "huge tensor", AT(tensor_ne[1]), 0, EDIT_U64, 1ull << 40, NULL,
	    "tensor 't.b' data ends at byte" },
	{ "type Q4_0", AT(tensor_type[0]), 0, EDIT_U32, 2, NULL,
	    "tensor 't.a': type 2 (Q4_0) is not supported" },
	{ "type BF16", AT(tensor_type[1]), 0, EDIT_U32, 30, NULL,
	    "type 30 (BF16) is not supported" },
	{ "type 1000", AT(tensor_type[2]), 0, EDIT_U32, 1000, NULL,
	    "type 1000 (unknown) is not supported" },
	{ "offset past the end", AT(tensor_offset[2]), 0, EDIT_U64, 1 << 20,
	    NULL, "tensor 't.c' data starts at offset 1048576 of the data "
	    "section, past the end of the file" },
	{ "offset near 2^64", AT(tensor_offset[2]), 0, EDIT_U64,
	    UINT64_MAX - 31, NULL, "past the end of the file" },
	{ "data ends past the end", AT(tensor_offset[2]), 0, EDIT_U64,
	    BASE_DATA_BYTES, NULL, "tensor 't.c' data ends at byte" },
	{ "misaligned offset", AT(tensor_offset[1]), 0, EDIT_U64, 33, NULL,
	    "tensor 't.b': data offset 33 is not a multiple of the alignment "
	    "32" },
	{ "tensors at one offset", AT(tensor_offset[1]), 0, EDIT_U64, 0, NULL,
	    "overlap" },
	{ "tensors overlapping", AT(tensor_offset[2]), 0, EDIT_U64, 32, NULL,
	    "tensors 't.b' and 't.c' overlap" },
};

static void
apply(const struct corruption *c, const struct layout *at,
    unsigned char *data, size_t *size)
{
	size_t pos = *(const size_t *)((const char *)at + c->field) + c->skip;
	unsigned char v[8];
	int i;

	for (i = 0; i < 8; i++)
		v[i] = (unsigned char)(c->value >> (8 * i));
	switch (c->edit) {
	case EDIT_CUT:
		*size = pos;
		break;
	case EDIT_U8:
		memcpy(data + pos, v, 1);
		break;
	case EDIT_U32:
		memcpy(data + pos, v, 4);
		break;
	case EDIT_U64:
		memcpy(data + pos, v, 8);
		break;
	case EDIT_TEXT:
		memcpy(data + pos, c->text, strlen(c->text));
		break;
	}
}

static void
test_corruptions(const struct bytes *base, const struct layout *at)
{
	char path[PATH_MAX + 64], name[64];
	struct duo_error err = { "" };
	struct gguf_file file;
	unsigned char *data;
	size_t i, size;

	if ((data = malloc(base->length)) == NULL)
		hard_error("out of memory");
	if (tally.verbose)
		printf("corrupt files:\n");
	for (i = 0; i < sizeof corruptions / sizeof corruptions[0]; i++) {
		memcpy(data, base->data, base->length);
		size = base->length;
		apply(&corruptions[i], at, data, &size);
		snprintf(name, sizeof name, "corrupt-%02zu.gguf", i);
		temp_path(path, sizeof path, name);
		write_bytes(path, data, size);
		check_open_fails(path, corruptions[i].expect,
		    corruptions[i].name, tally.verbose);
		unlink(path);
	}

	/* Cut at every byte up to the end of the last tensor's data. */
	temp_path(path, sizeof path, "cut.gguf");
	for (size = 0; size < at->data_end; size++) {
		const char *expect = size == 0 ? "empty file" :
		    size < 24 ? "too small for a GGUF header" :
		    "end of the file";

		write_bytes(path, base->data, size);
		snprintf(name, sizeof name, "cut at byte %zu", size);
		check_open_fails(path, expect, name, false);
	}
	/* Only the padding after the last tensor may go. */
	for (; size <= at->size; size++) {
		write_bytes(path, base->data, size);
		check(gguf_open(&file, path, &err) == 0, "file cut to %zu "
		    "bytes, inside the final padding, must open: %s", size,
		    err.message);
		gguf_close(&file);
	}
	unlink(path);

	check_open_fails(tally.dir, "is a directory", "a directory",
	    tally.verbose);
	temp_path(path, sizeof path, "no-such-file.gguf");
	check_open_fails(path, strerror(ENOENT), "a missing file",
	    tally.verbose);
	temp_path(path, sizeof path, "fifo.gguf");
	if (mkfifo(path, 0600) != 0)
		hard_error("mkfifo %s: %s", path, strerror(errno));
	check_open_fails(path, "not a regular file", "a FIFO", tally.verbose);
	free(data);
}

/* ---- 3. getters and writer failures ------------------------------------ */

static void
check_message(int rc, const struct duo_error *err, const char *path,
    const char *expect, const char *what)
{
	char want[PATH_MAX + 300];

	snprintf(want, sizeof want, "%s: %s", path, expect);
	check(rc == -1 && strcmp(err->message, want) == 0,
	    "%s: returned %d with \"%s\", expected -1 with \"%s\"", what, rc,
	    err->message, want);
	if (tally.verbose)
		printf("  %-34s %s\n", what, err->message);
}

static void
test_getters(void)
{
	struct duo_error err = { "" };
	struct gguf_file file;
	const struct gguf_kv *kv;
	char path[PATH_MAX + 64];
	char *s = NULL;
	uint32_t u;
	float f;
	int rc;

	temp_path(path, sizeof path, "round-trip.gguf");
	if (gguf_open(&file, path, &err) < 0) {
		check(false, "getters: %s", err.message);
		return;
	}
	if (tally.verbose)
		printf("getters:\n");
	rc = gguf_get_u32(&file, "duo.block_count", &u, &err);
	check_message(rc, &err, path,
	    "key 'duo.block_count' has type int32, expected uint32",
	    "u32 of an int32");
	rc = gguf_get_f32(&file, "rt.u32", &f, &err);
	check_message(rc, &err, path,
	    "key 'rt.u32' has type uint32, expected float32", "f32 of a u32");
	rc = gguf_get_string(&file, "rt.f32", &s, &err);
	check_message(rc, &err, path,
	    "key 'rt.f32' has type float32, expected string",
	    "string of an f32");
	rc = gguf_get_array(&file, "rt.floats", GGUF_TYPE_INT32, &kv, &err);
	check_message(rc, &err, path, "key 'rt.floats' has type array of "
	    "float32, expected array of int32", "int32 array of floats");
	rc = gguf_get_array(&file, "duo.block_count", GGUF_TYPE_INT32, &kv,
	    &err);
	check_message(rc, &err, path, "key 'duo.block_count' has type int32, "
	    "expected array of int32", "array of a scalar");
	rc = gguf_get_u32(&file, "rt.words", &u, &err);
	check_message(rc, &err, path, "key 'rt.words' has type array of "
	    "string, expected uint32", "u32 of a string array");
	rc = gguf_get_u32(&file, "no.such.key", &u, &err);
	check_message(rc, &err, path, "key 'no.such.key' is missing",
	    "missing key");
	rc = gguf_get_string(&file, "no.such.key", &s, &err);
	check_message(rc, &err, path, "key 'no.such.key' is missing",
	    "missing string");
	check(strcmp(gguf_type_name(GGUF_TYPE_FLOAT64), "float64") == 0 &&
	    strcmp(gguf_type_name(GGUF_TYPE_COUNT), "unknown") == 0,
	    "gguf_type_name");
	gguf_close(&file);
}

/* Build a writer with one fault and check save reports it, writing nothing. */
static void
check_save_fails(struct gguf_writer *w, const char *name, const char *expect,
    const char *what)
{
	struct duo_error err = { "" };
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	size_t n;
	int rc;

	temp_path(path, sizeof path, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	rc = gguf_writer_save(w, path, &err);
	n = strlen(path);
	check(rc == -1 && strncmp(err.message, path, n) == 0 &&
	    err.message[n] == ':' && strstr(err.message, expect) != NULL &&
	    !file_exists(tmp), "%s: save returned %d with \"%s\", expected "
	    "-1 and \"%s: ...%s...\" and no %s", what, rc, err.message, path,
	    expect, tmp);
	if (tally.verbose)
		printf("  %-34s %s\n", what, err.message);
	gguf_writer_free(w);
}

static void
test_writer_failures(void)
{
	static const float one[4] = { 1, 2, 3, 4 };
	const uint64_t ne5[5] = { 1, 1, 1, 1, 1 }, ne0[2] = { 2, 0 };
	const uint64_t ne4[1] = { 4 };
	struct duo_error err = { "" };
	struct gguf_writer *w;
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64];

	if (tally.verbose)
		printf("writer failures:\n");
	w = gguf_writer_new();
	gguf_writer_add_tensor(w, "bad", GGUF_TENSOR_F32, 5, ne5, one);
	check_save_fails(w, "w1.gguf", "tensor 'bad' has 5 dimensions",
	    "5 dimensions");

	w = gguf_writer_new();
	gguf_writer_add_tensor(w, "bad", GGUF_TENSOR_F32, 2, ne0, one);
	check_save_fails(w, "w2.gguf", "tensor 'bad' dimension 1 has size 0",
	    "dimension of size 0");

	w = gguf_writer_new();
	gguf_writer_add_tensor(w, "twice", GGUF_TENSOR_F32, 1, ne4, one);
	gguf_writer_add_tensor(w, "twice", GGUF_TENSOR_F16, 1, ne4, one);
	check_save_fails(w, "w3.gguf", "duplicate tensor name 'twice'",
	    "duplicate tensor");

	w = gguf_writer_new();
	/* 68 bytes: more than the 63 that ggml keeps. */
	gguf_writer_add_tensor(w, "blk.11.router.a_router_name_that_goes_on_"
	    "and_on_and_on_and_on.weight", GGUF_TENSOR_F32, 1, ne4, one);
	check_save_fails(w, "w4.gguf", "is longer than 63 bytes",
	    "tensor name too long");

	w = gguf_writer_new();
	gguf_writer_add_tensor(w, "q", (enum gguf_tensor_type)2, 1, ne4, one);
	check_save_fails(w, "w5.gguf", "tensor 'q' has type 2",
	    "tensor type Q4_0");

	w = gguf_writer_new();
	gguf_writer_add_tensor(w, "nothing", GGUF_TENSOR_F32, 1, ne4, NULL);
	check_save_fails(w, "w6.gguf", "tensor 'nothing' has no data",
	    "tensor without data");

	w = gguf_writer_new();
	gguf_writer_set_u32(w, "", 1);
	check_save_fails(w, "w7.gguf", "key of 0 bytes", "empty key");

	/* A size that overflows before any allocation: out of memory. */
	w = gguf_writer_new();
	gguf_writer_set_u32(w, "fine", 1);
	gguf_writer_set_f32_array(w, "too.many", one, SIZE_MAX / 4 + 1);
	gguf_writer_set_u32(w, "fine.after", 2);
	check_save_fails(w, "w8.gguf", "out of memory", "array too large");

	w = gguf_writer_new();
	gguf_writer_set_i32(w, "general.alignment", 32);
	check_save_fails(w, "w9.gguf",
	    "key 'general.alignment' has type int32, expected uint32",
	    "int32 alignment");

	w = gguf_writer_new();
	gguf_writer_set_u32(w, "general.alignment", 24);
	check_save_fails(w, "w10.gguf",
	    "key 'general.alignment' is 24, which is not a power of two",
	    "alignment 24");

	w = gguf_writer_new();
	check_save_fails(w, "no-such-dir/w11.gguf", "cannot create",
	    "missing directory");

	/* A target that is not a regular file (a directory, a pipe, a
	 * link, a device such as /dev/null) is refused before anything is
	 * written, so that the rename never replaces it. */
	temp_path(path, sizeof path, "w12.gguf");
	if (mkdir(path, 0700) != 0)
		hard_error("mkdir %s: %s", path, strerror(errno));
	w = gguf_writer_new();
	gguf_writer_add_tensor(w, "x", GGUF_TENSOR_F32, 1, ne4, one);
	check_save_fails(w, "w12.gguf", "exists and is not a regular file",
	    "target a directory");
	temp_path(path, sizeof path, "w13.gguf");
	if (mkfifo(path, 0600) != 0)
		hard_error("mkfifo %s: %s", path, strerror(errno));
	w = gguf_writer_new();
	check_save_fails(w, "w13.gguf", "exists and is not a regular file",
	    "target a pipe");
	temp_path(path, sizeof path, "w14.gguf");
	if (symlink("w10.gguf", path) != 0)
		hard_error("symlink %s: %s", path, strerror(errno));
	w = gguf_writer_new();
	check_save_fails(w, "w14.gguf", "exists and is not a regular file",
	    "target a symbolic link");
	{
		struct stat st;

		check(lstat(path, &st) == 0 && S_ISLNK(st.st_mode),
		    "the link w14.gguf is left a link");
	}

	check(gguf_writer_save(NULL, "nowhere.gguf", &err) == -1 &&
	    strcmp(err.message, "nowhere.gguf: out of memory") == 0,
	    "save of a NULL writer: \"%s\"", err.message);
	/* Everything accepts the NULL that a failed gguf_writer_new gives. */
	gguf_writer_set_u32(NULL, "k", 1);
	gguf_writer_set_string(NULL, "k", "v");
	gguf_writer_set_string_array(NULL, "k", NULL, NULL, 0);
	gguf_writer_set_f32_array(NULL, "k", one, 4);
	gguf_writer_add_tensor(NULL, "t", GGUF_TENSOR_F32, 1, ne4, one);
	gguf_writer_free(NULL);
	gguf_close(NULL);
	temp_path(tmp, sizeof tmp, "w12.gguf.tmp");
	check(!file_exists(tmp), "a failed save left %s behind", tmp);
}

/* A set general.alignment is kept; a file may be rewritten while open. */
static void
test_alignment_and_rewrite(void)
{
	static const uint64_t ne[2] = { 3, 5 };
	struct duo_error err = { "" };
	struct gguf_file file, old;
	struct gguf_writer *w;
	float data[15];
	char path[PATH_MAX + 64];
	uint64_t i, n_f32 = 0;
	size_t j;

	for (j = 0; j < 15; j++)
		data[j] = (float)j * 0.5f - 3.0f;
	w = gguf_writer_new();
	gguf_writer_set_u32(w, "general.alignment", 64);
	gguf_writer_add_tensor(w, "first", GGUF_TENSOR_F32, 2, ne, data);
	gguf_writer_add_tensor(w, "second", GGUF_TENSOR_F16, 2, ne, data);
	gguf_writer_add_tensor(w, "third", GGUF_TENSOR_F32, 1, ne, data);
	temp_path(path, sizeof path, "align64.gguf");
	check(gguf_writer_save(w, path, &err) == 0, "align64: %s",
	    err.message);
	gguf_writer_free(w);
	if (gguf_open(&file, path, &err) < 0) {
		check(false, "align64: %s", err.message);
	} else {
		bool aligned = file.alignment == 64 && file.n_kv == 1 &&
		    file.data_offset % 64 == 0;

		for (i = 0; i < file.n_tensors; i++)
			aligned &= file.tensors[i].offset % 64 == 0;
		check(aligned && file.n_tensors == 3 && file.size % 64 == 0,
		    "a file with general.alignment 64 is laid out on 64 bytes");
		gguf_close(&file);
	}

	/* Rewrite round-trip.gguf over itself, keeping its F32 tensors. */
	temp_path(path, sizeof path, "round-trip.gguf");
	if (gguf_open(&old, path, &err) < 0) {
		check(false, "rewrite: %s", err.message);
		return;
	}
	w = gguf_writer_new();
	check(gguf_writer_copy_kv(w, &old, &err) == 0, "rewrite copy: %s",
	    err.message);
	for (i = 0; i < old.n_tensors; i++) {
		const struct gguf_tensor *t = &old.tensors[i];
		char name[80];

		if (t->type != GGUF_TENSOR_F32)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)t->name.length,
		    t->name.data);
		gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne,
		    t->data);
		n_f32++;
	}
	check(gguf_writer_save(w, path, &err) == 0, "rewrite: %s",
	    err.message);
	gguf_writer_free(w);
	if (gguf_open(&file, path, &err) < 0) {
		check(false, "rewritten: %s", err.message);
		gguf_close(&old);
		return;
	}
	check(file.n_kv == old.n_kv && file.n_tensors == n_f32,
	    "rewritten file holds %" PRIu64 " keys and %" PRIu64 " tensors",
	    file.n_kv, file.n_tensors);
	for (i = 0; i < file.n_tensors; i++) {
		const struct gguf_tensor *t = &file.tensors[i], *o;
		char name[80];

		snprintf(name, sizeof name, "%.*s", (int)t->name.length,
		    t->name.data);
		o = gguf_find_tensor(&old, name);
		check(o != NULL && o->n_bytes == t->n_bytes &&
		    memcmp(o->data, t->data, (size_t)t->n_bytes) == 0,
		    "rewritten tensor %s differs (exact comparison)", name);
	}
	gguf_close(&file);
	gguf_close(&old);
}

int
main(int argc, char **argv)
{
	struct bytes base = { NULL, 0, 0 };
	struct layout at;
	const char *tmpdir = getenv("TMPDIR");

	tally.verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	if ((size_t)snprintf(tally.dir, sizeof tally.dir, "%s/test_gguf.XXXXXX",
	    tmpdir) >= sizeof tally.dir || mkdtemp(tally.dir) == NULL) {
		tally.dir[0] = '\0';
		hard_error("cannot make a temporary directory in %s: %s",
		    tmpdir, strerror(errno));
	}

	build_base(&base, &at);
	test_base_file(&base, &at);
	test_round_trip();
	test_all_types();
	test_half();
	test_corruptions(&base, &at);
	test_getters();
	test_writer_failures();
	test_alignment_and_rewrite();

	free(base.data);
	remove_temp_dir();
	if (tally.failures > 0) {
		printf("gguf: %d of %d checks failed\n", tally.failures,
		    tally.checks);
		return 1;
	}
	printf("gguf: %d checks passed\n", tally.checks);
	return 0;
}
