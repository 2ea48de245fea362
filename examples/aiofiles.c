/* Seed 000, "aiofiles での非同期ファイル操作": write a file, read it back.
 *
 *   async def write_file():
 *       async with aiofiles.open("output.txt", "w") as f:
 *           await f.write("非同期で書き込み")
 *   async def read_file():
 *       async with aiofiles.open("output.txt", "r") as f:
 *           content = await f.read()
 *           print(content)
 *   async def main():
 *       await write_file()
 *       await read_file()
 *
 * Prints:
 *   非同期で書き込み
 * (and leaves output.txt in the current directory, as the original does).
 * The file calls suspend only this task: they run on io_uring, or on the
 * thread pool where the kernel refuses io_uring (CIO_IO=threads forces it). */
#include <cio/core.h>
#include <cio/fs.h>

#include <stdio.h>
#include <string.h>

static int write_file(void *arg) {
    (void)arg;
    cio_file *f = cio_file_open("output.txt", "w", 0);
    if (!f)
        return -errno;
    const char *text = "非同期で書き込み";
    ssize_t rc = cio_file_write(f, text, strlen(text));
    int crc = cio_file_close(f); /* the end of "async with" */
    return rc < 0 ? (int)rc : crc;
}

static int read_file(void *arg) {
    (void)arg;
    cio_file *f = cio_file_open("output.txt", "r", 0);
    if (!f)
        return -errno;
    char *content;
    int rc = cio_file_read_all(f, &content, NULL);
    cio_file_close(f);
    if (rc < 0)
        return rc;
    printf("%s\n", content);
    cio_fs_free(content);
    return 0;
}

static int amain(void *arg) {
    int rc = write_file(arg);
    if (rc == 0)
        rc = read_file(arg);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_errmsg());
    return rc;
}

int main(void) { return cio_run(amain, NULL) == 0 ? 0 : 1; }
