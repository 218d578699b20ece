/*
 * gguf.h - GGUF version 3 model files: a validating reader and a writer.
 *
 * The reader maps the file read-only and checks every count, length, type,
 * offset and size against the file before anything points into it, with
 * overflow-checked arithmetic; no allocation is sized by a file value that
 * has not first been bounded by the file's own size.  After gguf_open()
 * succeeds every pointer in struct gguf_file is safe to follow.
 *
 * This module knows the container format only.  What keys and tensors a duo
 * model must have, and their shapes, is model.c's business.
 */
#ifndef DUO_GGUF_H
#define DUO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

enum gguf_type {
	GGUF_TYPE_UINT8 = 0,
	GGUF_TYPE_INT8 = 1,
	GGUF_TYPE_UINT16 = 2,
	GGUF_TYPE_INT16 = 3,
	GGUF_TYPE_UINT32 = 4,
	GGUF_TYPE_INT32 = 5,
	GGUF_TYPE_FLOAT32 = 6,
	GGUF_TYPE_BOOL = 7,
	GGUF_TYPE_STRING = 8,
	GGUF_TYPE_ARRAY = 9,
	GGUF_TYPE_UINT64 = 10,
	GGUF_TYPE_INT64 = 11,
	GGUF_TYPE_FLOAT64 = 12,
	GGUF_TYPE_COUNT
};

/* Tensor element types (ggml's numbering); duo reads and writes these two. */
enum gguf_tensor_type {
	GGUF_TENSOR_F32 = 0,
	GGUF_TENSOR_F16 = 1,
};

/* A string inside the mapped file: not NUL-terminated. */
struct gguf_string {
	uint64_t length;
	const char *data;
};

struct gguf_kv {
	struct gguf_string key;
	enum gguf_type type;
	/* For GGUF_TYPE_ARRAY: element type and count. */
	enum gguf_type array_type;
	uint64_t array_count;
	/* Scalar value or first array element, inside the mapping. */
	const unsigned char *value;
	/* For arrays of strings: array_count entries, allocated by the reader. */
	struct gguf_string *strings;
};

struct gguf_tensor {
	struct gguf_string name;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];   /* ne[0] varies fastest; unused dims are 1 */
	enum gguf_tensor_type type;
	uint64_t offset;              /* from the start of the data section */
	uint64_t n_elements;
	uint64_t n_bytes;
	const void *data;             /* inside the mapping */
};

struct gguf_file {
	char *path;
	unsigned char *map;
	size_t size;
	uint32_t version;
	uint64_t alignment;
	uint64_t n_kv;
	struct gguf_kv *kv;
	uint64_t n_tensors;
	struct gguf_tensor *tensors;
	uint64_t data_offset;         /* start of the tensor data section */
};

/* Map and validate path.  On failure the message names path and the fault. */
int gguf_open(struct gguf_file *file, const char *path, struct duo_error *err);
void gguf_close(struct gguf_file *file);

/* Lookups by exact key / tensor name; NULL when absent. */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *file, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *file,
    const char *name);

/*
 * Typed getters: fail (with a message naming the file and key) when the key
 * is missing or has another type.  Strings are copied into a fresh buffer.
 */
int gguf_get_u32(const struct gguf_file *file, const char *key, uint32_t *out,
    struct duo_error *err);
int gguf_get_f32(const struct gguf_file *file, const char *key, float *out,
    struct duo_error *err);
int gguf_get_string(const struct gguf_file *file, const char *key, char **out,
    struct duo_error *err);
/* An array key of the given element type; count and first element. */
int gguf_get_array(const struct gguf_file *file, const char *key,
    enum gguf_type element_type, const struct gguf_kv **out,
    struct duo_error *err);

const char *gguf_type_name(enum gguf_type type);

/* IEEE half <-> single conversions used for F16 tensors. */
float gguf_f16_to_f32(uint16_t h);
uint16_t gguf_f32_to_f16(float f);

/*
 * The writer collects keys and tensors (tensor data is borrowed: it must
 * stay valid until gguf_writer_save), then writes the whole file to
 * "<path>.tmp", flushes it to disk and renames it over path, so a reader
 * never sees a half-written model.
 */
struct gguf_writer;

struct gguf_writer *gguf_writer_new(void);
void gguf_writer_free(struct gguf_writer *writer);
/* Setting a key that is already set replaces its value. */
void gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_u64(struct gguf_writer *w, const char *key, uint64_t v);
void gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool(struct gguf_writer *w, const char *key, int v);
void gguf_writer_set_string(struct gguf_writer *w, const char *key,
    const char *v);
void gguf_writer_set_string_array(struct gguf_writer *w, const char *key,
    const char *const *v, const size_t *lengths, size_t n);
void gguf_writer_set_i32_array(struct gguf_writer *w, const char *key,
    const int32_t *v, size_t n);
void gguf_writer_set_f32_array(struct gguf_writer *w, const char *key,
    const float *v, size_t n);
/* Copy every key of a file opened for reading (used to rewrite a model). */
int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_file *file,
    struct duo_error *err);
/* data holds n_elements F32 values; type says how the file stores them. */
void gguf_writer_add_tensor(struct gguf_writer *w, const char *name,
    enum gguf_tensor_type type, uint32_t n_dims, const uint64_t *ne,
    const float *data);
int gguf_writer_save(struct gguf_writer *w, const char *path,
    struct duo_error *err);

#endif
