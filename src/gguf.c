/*
 * gguf.c - reading and writing GGUF version 3 model files.
 *
 * The reader maps the file and walks it with a cursor that refuses to step
 * past the end.  Every count read from the file is bounded by the bytes left
 * after it before it sizes an allocation, so a hostile file costs at most a
 * few times its own size in memory, and every error is one line naming the
 * file and the fault.  The writer keeps each value as the bytes the file
 * will hold, and lays out the file only in gguf_writer_save().
 *
 * Choices the format leaves open, made here:
 *  - arrays of arrays are rejected: no model key needs them;
 *  - keys and tensor names must be non-empty and free of NUL bytes, so they
 *    can be looked up by C string; keys are at most 65535 bytes (the
 *    specification's limit);
 *  - string values may hold NUL bytes (string arrays carry lengths), but
 *    gguf_get_string() refuses them, since its caller gets a C string;
 *  - bool values must be 0 or 1, as the specification says;
 *  - tensor data must start at an address aligned for its element type, so
 *    that model code may read it through float pointers;
 *  - a file without tensors need not be padded up to the data section.
 *
 * For a STRING key, kv->value points at the string as the file holds it
 * (8-byte length, then the bytes) and kv->strings holds one entry.
 * Multi-byte values are little-endian in the file; the typed getters decode
 * them, and tensor data is used in place (duo runs on little-endian hosts).
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor data is used in place: duo needs a little-endian host"
#endif

#define GGUF_HEADER_SIZE 24           /* magic, version, n_tensors, n_kv */
#define GGUF_MAX_KEY_LENGTH 65535
#define GGUF_MAX_TENSOR_NAME 63       /* ggml keeps names in 64 bytes */
#define ALIGNMENT_KEY "general.alignment"

/*
 * The fewest bytes a key or a tensor info can take, used to bound the
 * header's counts: a key is a length, one name byte, a type and a one-byte
 * value; a tensor info a length, one name byte, n_dims, one dimension, a
 * type and an offset.
 */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8)

/* Message names and sizes in the file of the value types. */
static const struct {
	const char *name;
	size_t size;                  /* 0: string and array vary */
} value_types[GGUF_TYPE_COUNT] = {
	[GGUF_TYPE_UINT8] = { "uint8", 1 },
	[GGUF_TYPE_INT8] = { "int8", 1 },
	[GGUF_TYPE_UINT16] = { "uint16", 2 },
	[GGUF_TYPE_INT16] = { "int16", 2 },
	[GGUF_TYPE_UINT32] = { "uint32", 4 },
	[GGUF_TYPE_INT32] = { "int32", 4 },
	[GGUF_TYPE_FLOAT32] = { "float32", 4 },
	[GGUF_TYPE_BOOL] = { "bool", 1 },
	[GGUF_TYPE_STRING] = { "string", 0 },
	[GGUF_TYPE_ARRAY] = { "array", 0 },
	[GGUF_TYPE_UINT64] = { "uint64", 8 },
	[GGUF_TYPE_INT64] = { "int64", 8 },
	[GGUF_TYPE_FLOAT64] = { "float64", 8 },
};

/* The tensor types duo reads and writes: name and bytes per element. */
static const struct {
	const char *name;
	size_t size;
} tensor_types[] = {
	[GGUF_TENSOR_F32] = { "F32", 4 },
	[GGUF_TENSOR_F16] = { "F16", 2 },
};
#define N_TENSOR_TYPES (sizeof tensor_types / sizeof tensor_types[0])

/* ggml's names of the tensor types duo does not read, for messages. */
static const char *const ggml_type_names[] = {
	"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0",
	"Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS",
	"IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
	"I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4",
	"Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
	"IQ4_NL_8_8", "MXFP4",
};

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8 & 0xff;
	p[2] = v >> 16 & 0xff;
	p[3] = v >> 24 & 0xff;
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static bool
is_power_of_two(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* Round v up to a multiple of alignment (a power of two); false on overflow. */
static bool
align_up(uint64_t v, uint64_t alignment, uint64_t *out)
{
	if (v > UINT64_MAX - (alignment - 1))
		return false;
	*out = (v + alignment - 1) & ~(alignment - 1);
	return true;
}

const char *
gguf_type_name(enum gguf_type type)
{
	if ((unsigned)type >= GGUF_TYPE_COUNT)
		return "unknown";
	return value_types[type].name;
}

/* Write "int32" or "array of int32" into buf. */
static const char *
describe_type(enum gguf_type type, enum gguf_type element_type, char *buf,
    size_t size)
{
	if (type == GGUF_TYPE_ARRAY)
		snprintf(buf, size, "array of %s", gguf_type_name(element_type));
	else
		snprintf(buf, size, "%s", gguf_type_name(type));
	return buf;
}

/*
 * Copy a file string into buf for a message: at most 64 bytes, bytes that
 * could garble a terminal shown as '?'.
 */
static const char *
quote(const struct gguf_string *s, char *buf, size_t size)
{
	size_t i, n;

	n = s->length < 64 ? (size_t)s->length : 64;
	if (n > size - 4)
		n = size - 4;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s->data[i];
		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (n < s->length) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- reader ---------------------------------------------------------- */

struct cursor {
	const unsigned char *map;
	size_t size;
	size_t pos;
	const char *path;
	char what[128];               /* what is being read: "key 'a.b'" */
	struct duo_error *err;
};

/* Fail with "<path>: <what>: <detail>". */
static int __attribute__((format(printf, 2, 3)))
cursor_error(struct cursor *c, const char *fmt, ...)
{
	char detail[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (c->what[0] == '\0')
		return error_set(c->err, "%s: %s", c->path, detail);
	return error_set(c->err, "%s: %s: %s", c->path, c->what, detail);
}

static void
cursor_name(struct cursor *c, const char *kind, const struct gguf_string *s)
{
	char buf[80];

	snprintf(c->what, sizeof c->what, "%s '%s'", kind,
	    quote(s, buf, sizeof buf));
}

static size_t
cursor_left(const struct cursor *c)
{
	return c->size - c->pos;
}

/* Take n bytes at the cursor, or fail naming field. */
static const unsigned char *
cursor_take(struct cursor *c, uint64_t n, const char *field)
{
	const unsigned char *p;

	if (n > cursor_left(c)) {
		cursor_error(c, "%s (%" PRIu64 " bytes from byte %zu) runs "
		    "past the end of the file (%zu bytes)", field, n, c->pos,
		    c->size);
		return NULL;
	}
	p = c->map + c->pos;
	c->pos += (size_t)n;
	return p;
}

static int
cursor_u32(struct cursor *c, const char *field, uint32_t *out)
{
	const unsigned char *p;

	if ((p = cursor_take(c, 4, field)) == NULL)
		return -1;
	*out = get_le32(p);
	return 0;
}

static int
cursor_u64(struct cursor *c, const char *field, uint64_t *out)
{
	const unsigned char *p;

	if ((p = cursor_take(c, 8, field)) == NULL)
		return -1;
	*out = get_le64(p);
	return 0;
}

/* Read a length-prefixed string; field names it in messages. */
static int
cursor_string(struct cursor *c, const char *field, struct gguf_string *out)
{
	uint64_t length;
	const unsigned char *p;

	if (cursor_u64(c, field, &length) < 0)
		return -1;
	if ((p = cursor_take(c, length, field)) == NULL)
		return -1;
	out->length = length;
	out->data = (const char *)p;
	return 0;
}

/*
 * Read string i of an array.  The common case takes no formatting; only a
 * failure names the element, by reading it again the checked way.
 */
static int
cursor_element(struct cursor *c, uint64_t i, struct gguf_string *out)
{
	uint64_t length;
	char field[48];

	if (cursor_left(c) >= 8) {
		length = get_le64(c->map + c->pos);
		if (length <= cursor_left(c) - 8) {
			out->length = length;
			out->data = (const char *)c->map + c->pos + 8;
			c->pos += 8 + (size_t)length;
			return 0;
		}
	}
	snprintf(field, sizeof field, "string %" PRIu64, i);
	return cursor_string(c, field, out);
}

/* Check that bool values are 0 or 1. */
static int
check_bools(struct cursor *c, const unsigned char *p, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (p[i] > 1)
			return cursor_error(c, "bool value %u at byte %zu is "
			    "neither 0 nor 1", p[i],
			    (size_t)(p + i - c->map));
	return 0;
}

static int
read_array(struct cursor *c, struct gguf_kv *kv)
{
	uint32_t element_type;
	uint64_t i, count;
	size_t size;

	if (cursor_u32(c, "array element type", &element_type) < 0)
		return -1;
	if (element_type >= GGUF_TYPE_COUNT)
		return cursor_error(c, "invalid array element type %" PRIu32,
		    element_type);
	if (element_type == GGUF_TYPE_ARRAY)
		return cursor_error(c, "array of arrays, which duo does not "
		    "read");
	kv->array_type = (enum gguf_type)element_type;
	if (cursor_u64(c, "array count", &count) < 0)
		return -1;
	kv->array_count = count;
	kv->value = c->map + c->pos;

	if (element_type == GGUF_TYPE_STRING) {
		/* Each string takes at least its 8-byte length. */
		if (count > cursor_left(c) / 8)
			return cursor_error(c, "array of %" PRIu64 " strings "
			    "cannot fit before the end of the file (%zu bytes "
			    "left of %zu)", count, cursor_left(c), c->size);
		if (count == 0)
			return 0;
		kv->strings = calloc((size_t)count, sizeof *kv->strings);
		if (kv->strings == NULL)
			return cursor_error(c, "out of memory");
		for (i = 0; i < count; i++)
			if (cursor_element(c, i, &kv->strings[i]) < 0)
				return -1;
		return 0;
	}

	size = value_types[element_type].size;
	if (count > cursor_left(c) / size)
		return cursor_error(c, "array of %" PRIu64 " %s values from "
		    "byte %zu runs past the end of the file (%zu bytes)", count,
		    value_types[element_type].name, c->pos, c->size);
	c->pos += (size_t)count * size;
	if (element_type == GGUF_TYPE_BOOL)
		return check_bools(c, kv->value, count);
	return 0;
}

static int
read_kv(struct cursor *c, uint64_t index, struct gguf_kv *kv)
{
	uint32_t type;

	snprintf(c->what, sizeof c->what, "key %" PRIu64, index);
	if (cursor_string(c, "name", &kv->key) < 0)
		return -1;
	if (kv->key.length == 0)
		return cursor_error(c, "empty name");
	if (kv->key.length > GGUF_MAX_KEY_LENGTH)
		return cursor_error(c, "name of %" PRIu64 " bytes is longer "
		    "than the %d allowed", kv->key.length, GGUF_MAX_KEY_LENGTH);
	if (memchr(kv->key.data, '\0', (size_t)kv->key.length) != NULL)
		return cursor_error(c, "name contains a NUL byte");
	cursor_name(c, "key", &kv->key);

	if (cursor_u32(c, "value type", &type) < 0)
		return -1;
	if (type >= GGUF_TYPE_COUNT)
		return cursor_error(c, "invalid value type %" PRIu32, type);
	kv->type = (enum gguf_type)type;
	if (type == GGUF_TYPE_ARRAY)
		return read_array(c, kv);

	kv->value = c->map + c->pos;
	if (type == GGUF_TYPE_STRING) {
		kv->strings = calloc(1, sizeof *kv->strings);
		if (kv->strings == NULL)
			return cursor_error(c, "out of memory");
		return cursor_string(c, "string value", kv->strings);
	}
	if (cursor_take(c, value_types[type].size, "value") == NULL)
		return -1;
	if (type == GGUF_TYPE_BOOL)
		return check_bools(c, kv->value, 1);
	return 0;
}

static int
compare_names(const void *a, const void *b)
{
	const struct gguf_string *x = *(const struct gguf_string *const *)a;
	const struct gguf_string *y = *(const struct gguf_string *const *)b;
	uint64_t n = x->length < y->length ? x->length : y->length;
	int cmp;

	if ((cmp = memcmp(x->data, y->data, (size_t)n)) != 0)
		return cmp;
	return (x->length > y->length) - (x->length < y->length);
}

/*
 * Sort the n names and report the first one that occurs twice as
 * "<path>: duplicate <kind> '<name>'"; O(n log n).
 */
static int
check_unique(struct cursor *c, const struct gguf_string **names, size_t n,
    const char *kind)
{
	size_t i;
	char buf[80];

	qsort(names, n, sizeof *names, compare_names);
	for (i = 1; i < n; i++)
		if (compare_names(&names[i - 1], &names[i]) == 0)
			return error_set(c->err, "%s: duplicate %s '%s'",
			    c->path, kind, quote(names[i], buf, sizeof buf));
	return 0;
}

static int
check_unique_keys(struct cursor *c, const struct gguf_file *file)
{
	const struct gguf_string **names;
	uint64_t i;
	int rc;

	if (file->n_kv < 2)
		return 0;
	if ((names = malloc((size_t)file->n_kv * sizeof *names)) == NULL)
		return error_set(c->err, "%s: out of memory", c->path);
	for (i = 0; i < file->n_kv; i++)
		names[i] = &file->kv[i].key;
	rc = check_unique(c, names, (size_t)file->n_kv, "key");
	free(names);
	return rc;
}

static int
check_unique_tensors(struct cursor *c, const struct gguf_file *file)
{
	const struct gguf_string **names;
	uint64_t i;
	int rc;

	if (file->n_tensors < 2)
		return 0;
	if ((names = malloc((size_t)file->n_tensors * sizeof *names)) == NULL)
		return error_set(c->err, "%s: out of memory", c->path);
	for (i = 0; i < file->n_tensors; i++)
		names[i] = &file->tensors[i].name;
	rc = check_unique(c, names, (size_t)file->n_tensors, "tensor name");
	free(names);
	return rc;
}

/* Take general.alignment if present: a uint32 power of two. */
static int
read_alignment(struct cursor *c, struct gguf_file *file)
{
	const struct gguf_kv *kv;
	uint32_t alignment;

	file->alignment = GGUF_DEFAULT_ALIGNMENT;
	if ((kv = gguf_find_kv(file, ALIGNMENT_KEY)) == NULL)
		return 0;
	if (kv->type != GGUF_TYPE_UINT32) {
		char have[40];

		return error_set(c->err, "%s: key '%s' has type %s, expected "
		    "uint32", c->path, ALIGNMENT_KEY,
		    describe_type(kv->type, kv->array_type, have, sizeof have));
	}
	alignment = get_le32(kv->value);
	if (!is_power_of_two(alignment))
		return error_set(c->err, "%s: key '%s' is %" PRIu32 ", which "
		    "is not a power of two", c->path, ALIGNMENT_KEY, alignment);
	file->alignment = alignment;
	return 0;
}

static int
read_tensor_info(struct cursor *c, uint64_t index, struct gguf_tensor *t,
    uint64_t alignment)
{
	uint32_t d, n_dims, type;
	uint64_t n_elements = 1;
	bool overflow = false;
	char shape[128];
	size_t used = 0;

	snprintf(c->what, sizeof c->what, "tensor %" PRIu64, index);
	if (cursor_string(c, "name", &t->name) < 0)
		return -1;
	if (t->name.length == 0)
		return cursor_error(c, "empty name");
	if (memchr(t->name.data, '\0', (size_t)t->name.length) != NULL)
		return cursor_error(c, "name contains a NUL byte");
	cursor_name(c, "tensor", &t->name);

	if (cursor_u32(c, "dimension count", &n_dims) < 0)
		return -1;
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return cursor_error(c, "%" PRIu32 " dimensions; duo reads 1 "
		    "to %d", n_dims, GGUF_MAX_DIMS);
	t->n_dims = n_dims;
	for (d = 0; d < GGUF_MAX_DIMS; d++)
		t->ne[d] = 1;
	shape[0] = '\0';
	for (d = 0; d < n_dims; d++) {
		if (cursor_u64(c, "shape", &t->ne[d]) < 0)
			return -1;
		if (t->ne[d] == 0)
			return cursor_error(c, "dimension %" PRIu32 " has size "
			    "0", d);
		if (__builtin_mul_overflow(n_elements, t->ne[d], &n_elements))
			overflow = true;
		if (used < sizeof shape)
			used += (size_t)snprintf(shape + used,
			    sizeof shape - used, "%s%" PRIu64, d ? " x " : "",
			    t->ne[d]);
	}
	if (overflow)
		return cursor_error(c, "shape %s has more elements than 64 "
		    "bits can count (overflow)", shape);
	t->n_elements = n_elements;

	if (cursor_u32(c, "type", &type) < 0)
		return -1;
	if (type >= N_TENSOR_TYPES) {
		const char *name = "unknown";

		if (type < sizeof ggml_type_names / sizeof ggml_type_names[0])
			name = ggml_type_names[type];
		return cursor_error(c, "type %" PRIu32 " (%s) is not "
		    "supported; duo reads F32 (0) and F16 (1)", type, name);
	}
	t->type = (enum gguf_tensor_type)type;
	if (__builtin_mul_overflow(n_elements, tensor_types[type].size,
	    &t->n_bytes))
		return cursor_error(c, "shape %s needs more bytes than 64 bits "
		    "can count (overflow)", shape);

	if (cursor_u64(c, "data offset", &t->offset) < 0)
		return -1;
	if (t->offset % alignment != 0)
		return cursor_error(c, "data offset %" PRIu64 " is not a "
		    "multiple of the alignment %" PRIu64, t->offset, alignment);
	return 0;
}

static int
compare_offsets(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;

	/* Ties in file order, so that messages do not depend on qsort. */
	if (x->offset != y->offset)
		return (x->offset > y->offset) - (x->offset < y->offset);
	return (x > y) - (x < y);
}

/* Place every tensor's data inside the file, aligned, without overlaps. */
static int
place_tensors(struct cursor *c, struct gguf_file *file)
{
	const struct gguf_tensor **sorted;
	struct gguf_tensor *t;
	uint64_t i, start, end;
	char a[80], b[80];

	if (!align_up(c->pos, file->alignment, &file->data_offset))
		return error_set(c->err, "%s: data section start overflows",
		    c->path);
	if (file->n_tensors == 0)
		return 0;
	if (file->data_offset > c->size)
		return error_set(c->err, "%s: data section starts at byte %"
		    PRIu64 ", past the end of the file (%zu bytes)", c->path,
		    file->data_offset, c->size);
	for (i = 0; i < file->n_tensors; i++) {
		t = &file->tensors[i];
		if (__builtin_add_overflow(file->data_offset, t->offset,
		    &start) || start > c->size)
			return error_set(c->err, "%s: tensor '%s' data starts at "
			    "offset %" PRIu64 " of the data section, past the "
			    "end of the file (%zu bytes)", c->path,
			    quote(&t->name, a, sizeof a), t->offset, c->size);
		if (__builtin_add_overflow(start, t->n_bytes, &end))
			return error_set(c->err, "%s: tensor '%s' data of %"
			    PRIu64 " bytes from byte %" PRIu64 " runs past the "
			    "end of the file (%zu bytes)", c->path,
			    quote(&t->name, a, sizeof a), t->n_bytes, start,
			    c->size);
		if (end > c->size)
			return error_set(c->err, "%s: tensor '%s' data ends at "
			    "byte %" PRIu64 ", past the end of the file (%zu "
			    "bytes)", c->path, quote(&t->name, a, sizeof a),
			    end, c->size);
		/* The mapping is page-aligned, so this aligns the address. */
		if (start % tensor_types[t->type].size != 0)
			return error_set(c->err, "%s: tensor '%s' data at byte %"
			    PRIu64 " is not aligned for %s values", c->path,
			    quote(&t->name, a, sizeof a), start,
			    tensor_types[t->type].name);
		t->data = c->map + start;
	}

	if ((sorted = malloc((size_t)file->n_tensors * sizeof *sorted)) == NULL)
		return error_set(c->err, "%s: out of memory", c->path);
	for (i = 0; i < file->n_tensors; i++)
		sorted[i] = &file->tensors[i];
	qsort(sorted, (size_t)file->n_tensors, sizeof *sorted, compare_offsets);
	for (i = 1; i < file->n_tensors; i++) {
		const struct gguf_tensor *x = sorted[i - 1], *y = sorted[i];

		if (y->offset < x->offset + x->n_bytes) {
			error_set(c->err, "%s: tensors '%s' and '%s' overlap "
			    "(bytes %" PRIu64 "-%" PRIu64 " and %" PRIu64 "-%"
			    PRIu64 " of the data section)", c->path,
			    quote(&x->name, a, sizeof a),
			    quote(&y->name, b, sizeof b), x->offset,
			    x->offset + x->n_bytes, y->offset,
			    y->offset + y->n_bytes);
			free(sorted);
			return -1;
		}
	}
	free(sorted);
	return 0;
}

static int
read_header(struct cursor *c, struct gguf_file *file)
{
	const unsigned char *p = c->map;
	uint32_t swapped;
	uint64_t left;
	char magic[24];
	int i, n = 0;

	if (memcmp(p, GGUF_MAGIC, 4) != 0) {
		for (i = 0; i < 4; i++)
			n += snprintf(magic + n, sizeof magic - (size_t)n,
			    "%s%02x", i ? " " : "", p[i]);
		return error_set(c->err, "%s: not a GGUF file (starts with "
		    "bytes %s, expected \"GGUF\")", c->path, magic);
	}
	file->version = get_le32(p + 4);
	swapped = __builtin_bswap32(file->version);
	if (file->version != GGUF_VERSION && swapped >= 1 && swapped <= 3)
		return error_set(c->err, "%s: looks big-endian (version field "
		    "reads %" PRIu32 " byte-swapped); duo reads little-endian "
		    "GGUF only", c->path, swapped);
	if (file->version == 1 || file->version == 2)
		return error_set(c->err, "%s: GGUF version %" PRIu32 " is too "
		    "old; duo reads version %d (convert the file with a "
		    "current llama.cpp)", c->path, file->version, GGUF_VERSION);
	if (file->version != GGUF_VERSION)
		return error_set(c->err, "%s: unsupported GGUF version %" PRIu32
		    "; duo reads version %d", c->path, file->version,
		    GGUF_VERSION);
	file->n_tensors = get_le64(p + 8);
	file->n_kv = get_le64(p + 16);
	c->pos = GGUF_HEADER_SIZE;

	/* Bound both counts by the bytes after the header before using them. */
	left = cursor_left(c);
	if (file->n_kv > left / MIN_KV_BYTES ||
	    file->n_tensors > (left - file->n_kv * MIN_KV_BYTES) /
	    MIN_TENSOR_INFO_BYTES)
		return error_set(c->err, "%s: header claims %" PRIu64 " keys "
		    "and %" PRIu64 " tensors, which cannot fit before the end "
		    "of the file (%zu bytes)", c->path, file->n_kv,
		    file->n_tensors, c->size);
	return 0;
}

/* Walk the mapped file, filling file; on failure file keeps what it got. */
static int
parse(struct cursor *c, struct gguf_file *file)
{
	uint64_t i;

	if (read_header(c, file) < 0)
		return -1;

	if (file->n_kv > 0 &&
	    (file->kv = calloc((size_t)file->n_kv, sizeof *file->kv)) == NULL)
		return error_set(c->err, "%s: out of memory", c->path);
	for (i = 0; i < file->n_kv; i++)
		if (read_kv(c, i, &file->kv[i]) < 0)
			return -1;
	c->what[0] = '\0';
	if (check_unique_keys(c, file) < 0 || read_alignment(c, file) < 0)
		return -1;

	if (file->n_tensors > 0 && (file->tensors =
	    calloc((size_t)file->n_tensors, sizeof *file->tensors)) == NULL)
		return error_set(c->err, "%s: out of memory", c->path);
	for (i = 0; i < file->n_tensors; i++)
		if (read_tensor_info(c, i, &file->tensors[i],
		    file->alignment) < 0)
			return -1;
	c->what[0] = '\0';
	if (check_unique_tensors(c, file) < 0)
		return -1;
	return place_tensors(c, file);
}

/* Open and map path read-only; fails on anything but a plain file. */
static int
map_file(const char *path, unsigned char **map, size_t *size,
    struct duo_error *err)
{
	struct stat st;
	void *p;
	int fd, saved;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return error_set(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		saved = errno;
		close(fd);
		return error_set(err, "%s: %s", path, strerror(saved));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return error_set(err, "%s: is a directory, not a GGUF file",
		    path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return error_set(err, "%s: empty file, not a GGUF file", path);
	}
	if (st.st_size < GGUF_HEADER_SIZE) {
		close(fd);
		return error_set(err, "%s: file too small for a GGUF header "
		    "(%jd bytes, a header takes %d)", path,
		    (intmax_t)st.st_size, GGUF_HEADER_SIZE);
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return error_set(err, "%s: file too large to map", path);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	saved = errno;
	close(fd);
	if (p == MAP_FAILED)
		return error_set(err, "%s: cannot map: %s", path,
		    strerror(saved));
	*map = p;
	*size = (size_t)st.st_size;
	return 0;
}

int
gguf_open(struct gguf_file *file, const char *path, struct duo_error *err)
{
	struct cursor c;

	memset(file, 0, sizeof *file);
	if (map_file(path, &file->map, &file->size, err) < 0)
		return -1;
	if ((file->path = strdup(path)) == NULL) {
		gguf_close(file);
		return error_set(err, "%s: out of memory", path);
	}
	memset(&c, 0, sizeof c);
	c.map = file->map;
	c.size = file->size;
	c.path = path;
	c.err = err;
	if (parse(&c, file) < 0) {
		gguf_close(file);
		return -1;
	}
	return 0;
}

void
gguf_close(struct gguf_file *file)
{
	uint64_t i;

	if (file == NULL)
		return;
	if (file->kv != NULL)
		for (i = 0; i < file->n_kv; i++)
			free(file->kv[i].strings);
	free(file->kv);
	free(file->tensors);
	if (file->map != NULL)
		munmap(file->map, file->size);
	free(file->path);
	memset(file, 0, sizeof *file);
}

static bool
string_is(const struct gguf_string *s, const char *text)
{
	size_t n = strlen(text);

	return s->length == n && memcmp(s->data, text, n) == 0;
}

const struct gguf_kv *
gguf_find_kv(const struct gguf_file *file, const char *key)
{
	uint64_t i;

	if (file->kv == NULL)
		return NULL;
	for (i = 0; i < file->n_kv; i++)
		if (string_is(&file->kv[i].key, key))
			return &file->kv[i];
	return NULL;
}

const struct gguf_tensor *
gguf_find_tensor(const struct gguf_file *file, const char *name)
{
	uint64_t i;

	if (file->tensors == NULL)
		return NULL;
	for (i = 0; i < file->n_tensors; i++)
		if (string_is(&file->tensors[i].name, name))
			return &file->tensors[i];
	return NULL;
}

/* Find key with the given type, or fail naming what it has instead. */
static const struct gguf_kv *
find_typed(const struct gguf_file *file, const char *key,
    enum gguf_type type, enum gguf_type element_type, struct duo_error *err)
{
	const struct gguf_kv *kv;
	char have[40], want[40];

	if ((kv = gguf_find_kv(file, key)) == NULL) {
		error_set(err, "%s: key '%s' is missing", file->path, key);
		return NULL;
	}
	if (kv->type != type ||
	    (type == GGUF_TYPE_ARRAY && kv->array_type != element_type)) {
		error_set(err, "%s: key '%s' has type %s, expected %s",
		    file->path, key,
		    describe_type(kv->type, kv->array_type, have, sizeof have),
		    describe_type(type, element_type, want, sizeof want));
		return NULL;
	}
	return kv;
}

int
gguf_get_u32(const struct gguf_file *file, const char *key, uint32_t *out,
    struct duo_error *err)
{
	const struct gguf_kv *kv;

	if ((kv = find_typed(file, key, GGUF_TYPE_UINT32, 0, err)) == NULL)
		return -1;
	*out = get_le32(kv->value);
	return 0;
}

int
gguf_get_f32(const struct gguf_file *file, const char *key, float *out,
    struct duo_error *err)
{
	const struct gguf_kv *kv;
	uint32_t bits;

	if ((kv = find_typed(file, key, GGUF_TYPE_FLOAT32, 0, err)) == NULL)
		return -1;
	bits = get_le32(kv->value);
	memcpy(out, &bits, sizeof *out);
	return 0;
}

int
gguf_get_string(const struct gguf_file *file, const char *key, char **out,
    struct duo_error *err)
{
	const struct gguf_kv *kv;
	const struct gguf_string *s;

	if ((kv = find_typed(file, key, GGUF_TYPE_STRING, 0, err)) == NULL)
		return -1;
	s = kv->strings;
	if (memchr(s->data, '\0', (size_t)s->length) != NULL)
		return error_set(err, "%s: key '%s' holds a string with a NUL "
		    "byte, which cannot be used as text", file->path, key);
	if ((*out = malloc((size_t)s->length + 1)) == NULL)
		return error_set(err, "%s: out of memory", file->path);
	memcpy(*out, s->data, (size_t)s->length);
	(*out)[s->length] = '\0';
	return 0;
}

int
gguf_get_array(const struct gguf_file *file, const char *key,
    enum gguf_type element_type, const struct gguf_kv **out,
    struct duo_error *err)
{
	const struct gguf_kv *kv;

	kv = find_typed(file, key, GGUF_TYPE_ARRAY, element_type, err);
	if (kv == NULL)
		return -1;
	*out = kv;
	return 0;
}

/* ---- half precision -------------------------------------------------- */

float
gguf_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exponent = h >> 10 & 0x1f;
	uint32_t mantissa = h & 0x3ff;
	uint32_t bits;
	float f;

	if (exponent == 0) {
		/* Zero or subnormal: mantissa units of 2^-24, exact. */
		f = (float)mantissa * 0x1p-24f;
		return sign ? -f : f;
	}
	if (exponent == 31)
		bits = sign | 0x7f800000 | mantissa << 13;
	else
		bits = sign | (exponent + 112) << 23 | mantissa << 13;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* Round half-way cases to even, as IEEE 754 does by default. */
uint16_t
gguf_f32_to_f16(float f)
{
	uint32_t bits, sign, magnitude, mantissa, half, remainder, halfway;
	int shift;

	memcpy(&bits, &f, sizeof bits);
	sign = bits >> 16 & 0x8000;
	magnitude = bits & 0x7fffffff;
	if (magnitude > 0x7f800000)
		/* NaN: stays NaN (quiet), keeping the top payload bits. */
		return (uint16_t)(sign | 0x7e00 | (magnitude >> 13 & 0x3ff));
	if (magnitude >= 0x477ff000)
		/* 65520 and up, the midpoint above 65504: infinity. */
		return (uint16_t)(sign | 0x7c00);
	if (magnitude >= 0x38800000) {
		/* Normal half (2^-14 and up): drop 13 mantissa bits. */
		half = (magnitude >> 13) - (112 << 10);
		remainder = magnitude & 0x1fff;
		if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1)))
			half++;
		return (uint16_t)(sign | half);
	}
	if (magnitude <= 0x33000000)
		/* At most 2^-25, half the smallest subnormal: zero. */
		return (uint16_t)sign;
	/* Subnormal half: count units of 2^-24. */
	mantissa = (magnitude & 0x7fffff) | 0x800000;
	shift = 126 - (int)(magnitude >> 23);  /* 14 to 24 */
	half = mantissa >> shift;
	remainder = mantissa & ((1u << shift) - 1);
	halfway = 1u << (shift - 1);
	if (remainder > halfway || (remainder == halfway && (half & 1)))
		half++;
	return (uint16_t)(sign | half);
}

/* ---- writer ---------------------------------------------------------- */

struct writer_kv {
	char *key;
	enum gguf_type type;
	unsigned char *value;         /* the bytes the file holds after type */
	size_t value_length;
};

struct writer_tensor {
	char *name;
	enum gguf_tensor_type type;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];
	uint64_t n_elements;
	uint64_t n_bytes;
	const float *data;            /* borrowed */
};

struct gguf_writer {
	struct writer_kv *kv;
	size_t n_kv;
	size_t kv_capacity;
	struct writer_tensor *tensors;
	size_t n_tensors;
	size_t tensor_capacity;
	/* A setter failed; the first failure's message waits for save. */
	bool failed;
	struct duo_error error;
};

static void __attribute__((format(printf, 2, 3)))
writer_fail(struct gguf_writer *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed)
		return;
	w->failed = true;
	va_start(ap, fmt);
	vsnprintf(w->error.message, sizeof w->error.message, fmt, ap);
	va_end(ap);
}

/* Make room for one more item of size bytes in *items. */
static bool
grow(void **items, size_t *capacity, size_t n, size_t size)
{
	size_t new_capacity;
	void *p;

	if (n < *capacity)
		return true;
	new_capacity = *capacity ? *capacity * 2 : 16;
	if (new_capacity > SIZE_MAX / size)
		return false;
	if ((p = realloc(*items, new_capacity * size)) == NULL)
		return false;
	*items = p;
	*capacity = new_capacity;
	return true;
}

struct gguf_writer *
gguf_writer_new(void)
{
	return calloc(1, sizeof(struct gguf_writer));
}

void
gguf_writer_free(struct gguf_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n_kv; i++) {
		free(w->kv[i].key);
		free(w->kv[i].value);
	}
	for (i = 0; i < w->n_tensors; i++)
		free(w->tensors[i].name);
	free(w->kv);
	free(w->tensors);
	free(w);
}

/* The index of key among the writer's keys, or n_kv when absent. */
static size_t
writer_find(const struct gguf_writer *w, const char *key, size_t key_length)
{
	size_t i;

	for (i = 0; i < w->n_kv; i++)
		if (strlen(w->kv[i].key) == key_length &&
		    memcmp(w->kv[i].key, key, key_length) == 0)
			break;
	return i;
}

/*
 * Set key to a value given as its file bytes; takes value (malloc'd, NULL
 * when building it failed for want of memory) whatever happens.
 */
static void
writer_put(struct gguf_writer *w, const char *key, size_t key_length,
    enum gguf_type type, unsigned char *value, size_t value_length)
{
	struct writer_kv *kv;
	size_t i;
	char *copy;

	if (w == NULL || w->failed) {
		free(value);
		return;
	}
	if (value == NULL) {
		writer_fail(w, "out of memory");
		return;
	}
	if (key == NULL || key_length == 0 ||
	    key_length > GGUF_MAX_KEY_LENGTH) {
		free(value);
		writer_fail(w, "key of %zu bytes; keys take 1 to %d", key_length,
		    GGUF_MAX_KEY_LENGTH);
		return;
	}
	if ((i = writer_find(w, key, key_length)) < w->n_kv) {
		kv = &w->kv[i];
		free(kv->value);
		kv->type = type;
		kv->value = value;
		kv->value_length = value_length;
		return;
	}
	if (!grow((void **)&w->kv, &w->kv_capacity, w->n_kv, sizeof *w->kv) ||
	    (copy = malloc(key_length + 1)) == NULL) {
		free(value);
		writer_fail(w, "out of memory");
		return;
	}
	memcpy(copy, key, key_length);
	copy[key_length] = '\0';
	kv = &w->kv[w->n_kv++];
	kv->key = copy;
	kv->type = type;
	kv->value = value;
	kv->value_length = value_length;
}

static void
writer_put_scalar(struct gguf_writer *w, const char *key, enum gguf_type type,
    uint64_t bits)
{
	unsigned char *value;
	size_t i, size = value_types[type].size;

	if ((value = malloc(size)) != NULL)
		for (i = 0; i < size; i++)
			value[i] = (unsigned char)(bits >> (8 * i));
	writer_put(w, key, key ? strlen(key) : 0, type, value, size);
}

void
gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
	writer_put_scalar(w, key, GGUF_TYPE_UINT32, v);
}

void
gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v)
{
	writer_put_scalar(w, key, GGUF_TYPE_INT32, (uint32_t)v);
}

void
gguf_writer_set_u64(struct gguf_writer *w, const char *key, uint64_t v)
{
	writer_put_scalar(w, key, GGUF_TYPE_UINT64, v);
}

void
gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v)
{
	uint32_t bits;

	memcpy(&bits, &v, sizeof bits);
	writer_put_scalar(w, key, GGUF_TYPE_FLOAT32, bits);
}

void
gguf_writer_set_bool(struct gguf_writer *w, const char *key, int v)
{
	writer_put_scalar(w, key, GGUF_TYPE_BOOL, v != 0);
}

void
gguf_writer_set_string(struct gguf_writer *w, const char *key, const char *v)
{
	unsigned char *value = NULL;
	size_t n = v ? strlen(v) : 0;

	if (n <= SIZE_MAX - 8 && (value = malloc(8 + n)) != NULL) {
		put_le64(value, n);
		memcpy(value + 8, v, n);
	}
	writer_put(w, key, key ? strlen(key) : 0, GGUF_TYPE_STRING, value,
	    8 + n);
}

/* Allocate an array value: element type, count, then bytes for elements. */
static unsigned char *
array_value(enum gguf_type element_type, uint64_t count, size_t bytes,
    size_t *length)
{
	unsigned char *value;

	if (bytes > SIZE_MAX - 12 || (value = malloc(12 + bytes)) == NULL)
		return NULL;
	put_le32(value, element_type);
	put_le64(value + 4, count);
	*length = 12 + bytes;
	return value;
}

void
gguf_writer_set_string_array(struct gguf_writer *w, const char *key,
    const char *const *v, const size_t *lengths, size_t n)
{
	unsigned char *value = NULL, *p;
	size_t i, length = 0, bytes = 0, size;
	bool overflow = n > SIZE_MAX / 8;

	if (w == NULL)
		return;
	for (i = 0; i < n && !overflow; i++) {
		size = lengths ? lengths[i] : strlen(v[i]);
		overflow = __builtin_add_overflow(bytes, 8, &bytes) ||
		    __builtin_add_overflow(bytes, size, &bytes);
	}
	if (!overflow &&
	    (value = array_value(GGUF_TYPE_STRING, n, bytes, &length)) != NULL)
		for (i = 0, p = value + 12; i < n; i++) {
			size = lengths ? lengths[i] : strlen(v[i]);
			put_le64(p, size);
			memcpy(p + 8, v[i], size);
			p += 8 + size;
		}
	writer_put(w, key, key ? strlen(key) : 0, GGUF_TYPE_ARRAY, value,
	    length);
}

void
gguf_writer_set_i32_array(struct gguf_writer *w, const char *key,
    const int32_t *v, size_t n)
{
	unsigned char *value = NULL;
	size_t i, length = 0;

	if (n <= SIZE_MAX / 4 &&
	    (value = array_value(GGUF_TYPE_INT32, n, n * 4, &length)) != NULL)
		for (i = 0; i < n; i++)
			put_le32(value + 12 + 4 * i, (uint32_t)v[i]);
	writer_put(w, key, key ? strlen(key) : 0, GGUF_TYPE_ARRAY, value,
	    length);
}

void
gguf_writer_set_f32_array(struct gguf_writer *w, const char *key,
    const float *v, size_t n)
{
	unsigned char *value = NULL;
	uint32_t bits;
	size_t i, length = 0;

	if (n <= SIZE_MAX / 4 &&
	    (value = array_value(GGUF_TYPE_FLOAT32, n, n * 4, &length)) != NULL)
		for (i = 0; i < n; i++) {
			memcpy(&bits, &v[i], sizeof bits);
			put_le32(value + 12 + 4 * i, bits);
		}
	writer_put(w, key, key ? strlen(key) : 0, GGUF_TYPE_ARRAY, value,
	    length);
}

/* The file bytes of kv's value, as they follow its type. */
static unsigned char *
kv_value_bytes(const struct gguf_kv *kv, size_t *length)
{
	unsigned char *value, *p;
	size_t size, bytes = 0;
	uint64_t i;

	if (kv->type == GGUF_TYPE_STRING)
		size = 8 + (size_t)kv->strings[0].length;
	else if (kv->type != GGUF_TYPE_ARRAY)
		size = value_types[kv->type].size;
	else
		size = 0;
	if (kv->type != GGUF_TYPE_ARRAY) {
		/* The reader checked these bytes lie inside the mapping. */
		if ((value = malloc(size)) != NULL)
			memcpy(value, kv->value, size);
		*length = size;
		return value;
	}
	if (kv->array_type != GGUF_TYPE_STRING) {
		bytes = (size_t)kv->array_count *
		    value_types[kv->array_type].size;
		if ((value = array_value(kv->array_type, kv->array_count, bytes,
		    length)) != NULL)
			memcpy(value + 12, kv->value, bytes);
		return value;
	}
	for (i = 0; i < kv->array_count; i++)
		bytes += 8 + (size_t)kv->strings[i].length;
	if ((value = array_value(GGUF_TYPE_STRING, kv->array_count, bytes,
	    length)) == NULL)
		return NULL;
	for (i = 0, p = value + 12; i < kv->array_count; i++) {
		put_le64(p, kv->strings[i].length);
		memcpy(p + 8, kv->strings[i].data,
		    (size_t)kv->strings[i].length);
		p += 8 + kv->strings[i].length;
	}
	return value;
}

int
gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_file *file,
    struct duo_error *err)
{
	const struct gguf_kv *kv;
	unsigned char *value;
	size_t length = 0;
	uint64_t i;

	if (w == NULL)
		return error_set(err, "%s: out of memory", file->path);
	for (i = 0; i < file->n_kv; i++) {
		kv = &file->kv[i];
		value = kv_value_bytes(kv, &length);
		writer_put(w, kv->key.data, (size_t)kv->key.length, kv->type,
		    value, length);
	}
	if (w->failed)
		return error_set(err, "%s: %s", file->path, w->error.message);
	return 0;
}

void
gguf_writer_add_tensor(struct gguf_writer *w, const char *name,
    enum gguf_tensor_type type, uint32_t n_dims, const uint64_t *ne,
    const float *data)
{
	struct writer_tensor *t;
	uint64_t n_elements = 1, n_bytes;
	uint32_t d;
	size_t i;

	if (w == NULL || w->failed)
		return;
	if (name == NULL || name[0] == '\0') {
		writer_fail(w, "tensor with an empty name");
		return;
	}
	if (strlen(name) > GGUF_MAX_TENSOR_NAME) {
		writer_fail(w, "tensor name '%.64s...' is longer than %d bytes",
		    name, GGUF_MAX_TENSOR_NAME);
		return;
	}
	if ((unsigned)type >= N_TENSOR_TYPES) {
		writer_fail(w, "tensor '%s' has type %d; duo writes F32 (0) "
		    "and F16 (1)", name, (int)type);
		return;
	}
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || ne == NULL) {
		writer_fail(w, "tensor '%s' has %" PRIu32 " dimensions; GGUF "
		    "holds 1 to %d", name, n_dims, GGUF_MAX_DIMS);
		return;
	}
	for (d = 0; d < n_dims; d++) {
		if (ne[d] == 0) {
			writer_fail(w, "tensor '%s' dimension %" PRIu32 " has "
			    "size 0", name, d);
			return;
		}
		if (__builtin_mul_overflow(n_elements, ne[d], &n_elements)) {
			writer_fail(w, "tensor '%s' has more elements than 64 "
			    "bits can count", name);
			return;
		}
	}
	if (__builtin_mul_overflow(n_elements, tensor_types[type].size,
	    &n_bytes) || n_elements > SIZE_MAX) {
		writer_fail(w, "tensor '%s' is too large", name);
		return;
	}
	if (data == NULL) {
		writer_fail(w, "tensor '%s' has no data", name);
		return;
	}
	for (i = 0; i < w->n_tensors; i++)
		if (strcmp(w->tensors[i].name, name) == 0) {
			writer_fail(w, "duplicate tensor name '%s'", name);
			return;
		}
	if (!grow((void **)&w->tensors, &w->tensor_capacity, w->n_tensors,
	    sizeof *w->tensors)) {
		writer_fail(w, "out of memory");
		return;
	}
	t = &w->tensors[w->n_tensors];
	if ((t->name = strdup(name)) == NULL) {
		writer_fail(w, "out of memory");
		return;
	}
	w->n_tensors++;
	t->type = type;
	t->n_dims = n_dims;
	for (d = 0; d < GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->n_elements = n_elements;
	t->n_bytes = n_bytes;
	t->data = data;
}

/* A buffered file being written, counting its bytes; errno kept on error. */
struct output {
	FILE *f;
	uint64_t pos;
	int error;                    /* errno of the first failed write */
};

static void
out_bytes(struct output *o, const void *p, size_t n)
{
	if (o->error != 0 || n == 0)
		return;
	if (fwrite(p, 1, n, o->f) != n)
		o->error = errno ? errno : EIO;
	o->pos += n;
}

static void
out_u32(struct output *o, uint32_t v)
{
	unsigned char b[4];

	put_le32(b, v);
	out_bytes(o, b, sizeof b);
}

static void
out_u64(struct output *o, uint64_t v)
{
	unsigned char b[8];

	put_le64(b, v);
	out_bytes(o, b, sizeof b);
}

static void
out_string(struct output *o, const char *s)
{
	size_t n = strlen(s);

	out_u64(o, n);
	out_bytes(o, s, n);
}

static void
out_pad(struct output *o, uint64_t alignment)
{
	static const unsigned char zeros[64];
	uint64_t n = (alignment - o->pos % alignment) % alignment;

	while (n > 0) {
		size_t chunk = n < sizeof zeros ? (size_t)n : sizeof zeros;

		out_bytes(o, zeros, chunk);
		n -= chunk;
	}
}

/* Write a tensor's elements as the file stores them, a chunk at a time. */
static void
out_tensor_data(struct output *o, const struct writer_tensor *t)
{
	unsigned char chunk[16384];
	size_t i, n, per_chunk, size = tensor_types[t->type].size;
	size_t total = (size_t)t->n_elements;
	uint32_t bits;

	per_chunk = sizeof chunk / size;
	for (i = 0; i < total; i += n) {
		size_t j;

		n = total - i < per_chunk ? total - i : per_chunk;
		for (j = 0; j < n; j++) {
			if (t->type == GGUF_TENSOR_F16) {
				uint16_t h = gguf_f32_to_f16(t->data[i + j]);

				chunk[2 * j] = h & 0xff;
				chunk[2 * j + 1] = h >> 8;
			} else {
				memcpy(&bits, &t->data[i + j], sizeof bits);
				put_le32(chunk + 4 * j, bits);
			}
		}
		out_bytes(o, chunk, n * size);
	}
}

/* The alignment the file will use: general.alignment if set, else 32. */
static int
writer_alignment(const struct gguf_writer *w, const char *path,
    uint64_t *alignment, bool *implicit, struct duo_error *err)
{
	const struct writer_kv *kv;
	size_t i;
	uint32_t v;

	i = writer_find(w, ALIGNMENT_KEY, strlen(ALIGNMENT_KEY));
	*implicit = i == w->n_kv;
	*alignment = GGUF_DEFAULT_ALIGNMENT;
	if (*implicit)
		return 0;
	kv = &w->kv[i];
	if (kv->type != GGUF_TYPE_UINT32)
		return error_set(err, "%s: key '%s' has type %s, expected "
		    "uint32", path, ALIGNMENT_KEY, gguf_type_name(kv->type));
	v = get_le32(kv->value);
	if (!is_power_of_two(v))
		return error_set(err, "%s: key '%s' is %" PRIu32 ", which is "
		    "not a power of two", path, ALIGNMENT_KEY, v);
	*alignment = v;
	return 0;
}

/* Lay out and write the whole file to o. */
static void
write_file(struct output *o, const struct gguf_writer *w, uint64_t alignment,
    bool implicit_alignment)
{
	const struct writer_tensor *t;
	uint64_t offset = 0;
	size_t i;
	uint32_t d;

	out_bytes(o, GGUF_MAGIC, 4);
	out_u32(o, GGUF_VERSION);
	out_u64(o, w->n_tensors);
	out_u64(o, w->n_kv + implicit_alignment);
	if (implicit_alignment) {
		out_string(o, ALIGNMENT_KEY);
		out_u32(o, GGUF_TYPE_UINT32);
		out_u32(o, (uint32_t)alignment);
	}
	for (i = 0; i < w->n_kv; i++) {
		out_string(o, w->kv[i].key);
		out_u32(o, w->kv[i].type);
		out_bytes(o, w->kv[i].value, w->kv[i].value_length);
	}
	for (i = 0; i < w->n_tensors; i++) {
		t = &w->tensors[i];
		out_string(o, t->name);
		out_u32(o, t->n_dims);
		for (d = 0; d < t->n_dims; d++)
			out_u64(o, t->ne[d]);
		out_u32(o, t->type);
		out_u64(o, offset);
		/* Sizes were checked when added; the sum fits a real file. */
		offset += (t->n_bytes + alignment - 1) & ~(alignment - 1);
	}
	out_pad(o, alignment);
	for (i = 0; i < w->n_tensors; i++) {
		out_tensor_data(o, &w->tensors[i]);
		out_pad(o, alignment);
	}
}

/* Flush the directory holding path, so the rename survives a crash. */
static void
sync_directory(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);  /* best effort: the file itself is already safe */
		close(fd);
	}
	free(dir);
}

/* Whether path is absent or a regular file (not a link to one). */
static bool
replaceable(const char *path)
{
	struct stat st;

	/* a path that cannot be looked at is left to open() to report */
	return lstat(path, &st) != 0 || S_ISREG(st.st_mode);
}

int
gguf_writer_save(struct gguf_writer *w, const char *path,
    struct duo_error *err)
{
	struct output o = { NULL, 0, 0 };
	uint64_t alignment;
	bool implicit;
	char *tmp;
	int fd;

	if (w == NULL)
		return error_set(err, "%s: out of memory", path);
	if (w->failed)
		return error_set(err, "%s: %s", path, w->error.message);
	if (writer_alignment(w, path, &alignment, &implicit, err) < 0)
		return -1;
	if ((tmp = malloc(strlen(path) + 5)) == NULL)
		return error_set(err, "%s: out of memory", path);
	strcpy(tmp, path);
	strcat(tmp, ".tmp");
	/* The rename below would replace whatever path is, a device or a
	 * link included: only a regular file, or nothing, is written over,
	 * and the temporary name is never followed through a link. */
	if (!replaceable(path) || !replaceable(tmp)) {
		error_set(err, "%s: %s exists and is not a regular file; a "
		    "model is written only over a regular file", path,
		    replaceable(path) ? tmp : path);
		free(tmp);
		return -1;
	}

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0666);
	if (fd < 0) {
		error_set(err, "%s: cannot create %s: %s", path, tmp,
		    strerror(errno));
		free(tmp);
		return -1;
	}
	if ((o.f = fdopen(fd, "wb")) == NULL) {
		o.error = errno;
		close(fd);
		goto fail;
	}
	write_file(&o, w, alignment, implicit);
	if (o.error == 0 && fflush(o.f) != 0)
		o.error = errno;
	if (o.error == 0 && fsync(fileno(o.f)) != 0)
		o.error = errno;
	if (fclose(o.f) != 0 && o.error == 0)
		o.error = errno;
	if (o.error != 0)
		goto fail;
	if (rename(tmp, path) != 0) {
		error_set(err, "%s: cannot rename %s over it: %s", path, tmp,
		    strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	sync_directory(path);
	free(tmp);
	return 0;

fail:
	error_set(err, "%s: cannot write %s: %s", path, tmp,
	    strerror(o.error ? o.error : EIO));
	unlink(tmp);
	free(tmp);
	return -1;
}
