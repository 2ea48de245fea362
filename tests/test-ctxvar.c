/* Context variables: defaults, set/get/reset, copy-on-write inheritance,
 * isolation between tasks, and the seed's func_a/func_b/func_c example. */
#include <cio.h>
#include <cio/test.h>

#include "core/internal.h"

#include <stdio.h>
#include <string.h>

static cio_ctxvar var = CIO_CTXVAR_INIT("var", "blank");
static cio_ctxvar num = CIO_CTXVAR_INIT("num", 42);

CIO_TEST(ctxvar_default_set_get) {
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "blank");
    CIO_ASSERT(!cio_ctxvar_isset(&var));
    CIO_ASSERT_EQ(cio_ctxvar_geti(&num), 42);
    CIO_ASSERT_EQ(cio_ctxvar_set(&var, "x", NULL), 0);
    CIO_ASSERT(cio_ctxvar_isset(&var));
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "x");
    CIO_ASSERT_EQ(cio_ctxvar_get(&num), (void *)42);
    CIO_ASSERT_EQ(cio_ctxvar_set(&var, NULL, NULL), 0); /* NULL is a value, not "unset" */
    CIO_ASSERT(cio_ctxvar_get(&var) == NULL);
    CIO_ASSERT_STREQ(cio_ctxvar_name(&var), "var");
}

CIO_TEST(ctxvar_token_reset) {
    cio_ctxtoken t1, t2;
    CIO_ASSERT_EQ(cio_ctxvar_seti(&num, 1, &t1), 0);
    CIO_ASSERT_EQ(cio_ctxvar_seti(&num, 2, &t2), 0);
    CIO_ASSERT_EQ(cio_ctxvar_geti(&num), 2);
    CIO_ASSERT_EQ(cio_ctxvar_reset(&t2), 0);
    CIO_ASSERT_EQ(cio_ctxvar_geti(&num), 1);
    CIO_ASSERT_EQ(cio_ctxvar_reset(&t2), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "already been used") != NULL);
    CIO_ASSERT_EQ(cio_ctxvar_reset(&t1), 0);
    CIO_ASSERT(!cio_ctxvar_isset(&num)); /* back to "no value": the default */
    CIO_ASSERT_EQ(cio_ctxvar_geti(&num), 42);
    CIO_ASSERT_EQ(cio_ctxvar_reset(NULL), -EINVAL);
}

CIO_TEST(ctxvar_errors) {
    CIO_ASSERT(cio_ctxvar_get(NULL) == NULL);
    CIO_ASSERT_EQ(cio_ctxvar_set(NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT(!cio_ctxvar_isset(NULL));
    CIO_ASSERT_STREQ(cio_ctxvar_name(NULL), "");
}

static cio_ctxtoken foreign;
static int reset_foreign(void *arg) {
    (void)arg;
    return cio_ctxvar_reset(&foreign);
}

CIO_TEST(ctxvar_token_from_another_task_is_refused) {
    cio_ctxvar_set(&var, "mine", &foreign);
    cio_task *t = cio_spawn(reset_foreign, NULL);
    CIO_ASSERT_EQ(cio_join(t), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "different context") != NULL);
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "mine");
}

struct seen {
    const char *at_start, *after_set, *after_parent_set;
    cio_event *go;
};

static int child(void *arg) {
    struct seen *s = arg;
    s->at_start = cio_ctxvar_get(&var);
    cio_ctxvar_set(&var, "child", NULL);
    s->after_set = cio_ctxvar_get(&var);
    cio_event_wait(s->go);
    s->after_parent_set = cio_ctxvar_get(&var);
    return 0;
}

CIO_TEST(ctxvar_child_starts_from_copy_and_never_leaks_up) {
    cio_event go = CIO_EVENT_INIT;
    struct seen s = {.go = &go};
    cio_ctxvar_set(&var, "parent", NULL);
    cio_task *t = cio_spawn(child, &s);
    cio_ctxvar_set(&var, "parent2", NULL); /* after the spawn: not seen by the child */
    cio_yield();
    CIO_ASSERT_STREQ(s.at_start, "parent");
    CIO_ASSERT_STREQ(s.after_set, "child");
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "parent2");
    cio_ctxvar_set(&var, "parent3", NULL);
    cio_event_set(&go);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_STREQ(s.after_parent_set, "child");
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "parent3");
}

static int grandchild(void *arg) {
    *(const char **)arg = cio_ctxvar_get(&var);
    return 0;
}
static int middle(void *arg) {
    cio_task *t = cio_spawn(grandchild, arg);
    return cio_join(t);
}

CIO_TEST(ctxvar_inherited_through_generations) {
    const char *got = NULL;
    cio_ctxvar_set(&var, "root", NULL);
    CIO_ASSERT_EQ(cio_join(cio_spawn(middle, &got)), 0);
    CIO_ASSERT_STREQ(got, "root");
}

static int noop(void *arg) {
    (void)arg;
    return 0;
}

static int sees_the_default(void *arg) {
    (void)arg;
    return !cio_ctxvar_isset(&var) && strcmp(cio_ctxvar_get(&var), "blank") == 0 ? 0 : -1;
}

/* A task's argument and, once it has set some, its context variables
 * share a word of its handle: until the first is set, the argument (here
 * a pointer to junk) must not read as variables, for the task or for the
 * tasks it spawns. */
static int argument_is_not_variables(void *arg) {
    (void)arg;
    if (sees_the_default(NULL) < 0)
        return -1;
    if (cio_join(cio_spawn(sees_the_default, arg)) < 0)
        return -2;
    if (cio_ctxvar_set(&var, "mine", NULL) < 0 || strcmp(cio_ctxvar_get(&var), "mine") != 0)
        return -3;
    return 0;
}

CIO_TEST(ctxvar_argument_is_never_read_as_variables) {
    char junk[256];
    memset(junk, 0x5a, sizeof junk);
    CIO_ASSERT_EQ(cio_join(cio_spawn(argument_is_not_variables, junk)), 0);
}

/* A spawn shares its parent's map, copying nothing: each child that has
 * not run yet holds it in its one small record (the handle has no room for
 * it), freed when the child ends. */
CIO_TEST(ctxvar_spawn_shares_without_copying) {
    cio_ctxvar_set(&var, "shared", NULL);
    CIO_ASSERT_EQ(cio_join(cio_spawn(noop, NULL)), 0); /* warm the task pool */
    long before = cio__alloc_live();
    cio_task *t[50];
    for (int i = 0; i < 50; i++)
        t[i] = cio_spawn(noop, NULL);
    CIO_ASSERT_EQ(cio__alloc_live(), before + 50);
    CIO_ASSERT_EQ(cio_gather(t, 50, NULL), 0);
    CIO_ASSERT_EQ(cio__alloc_live(), before);
    /* the first set after sharing copies once; later sets do not */
    cio_task *held = cio_spawn(noop, NULL);
    long shared = cio__alloc_live();
    cio_ctxvar_set(&var, "a", NULL);
    long after_copy = cio__alloc_live();
    CIO_ASSERT_EQ(after_copy, shared + 1);
    cio_ctxvar_set(&var, "b", NULL);
    CIO_ASSERT_EQ(cio__alloc_live(), after_copy);
    CIO_ASSERT_EQ(cio_join(held), 0);
}

/* A spawn that inherits context variables and finds no memory for the
 * record that holds them fails cleanly: NULL, ENOMEM, a message, nothing
 * queued or leaked, and the next spawn works. */
CIO_TEST(ctxvar_spawn_without_memory_for_the_record_fails_cleanly) {
    cio_ctxvar_set(&var, "shared", NULL);
    CIO_ASSERT_EQ(cio_join(cio_spawn(noop, NULL)), 0); /* a free handle: no chunk to allocate */
    cio_test_fail_alloc(1);
    errno = 0;
    CIO_ASSERT(cio_spawn(noop, NULL) == NULL);
    CIO_ASSERT_EQ(errno, ENOMEM);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_spawn") != NULL);
    cio_task *t = cio_spawn(noop, NULL);
    CIO_ASSERT(t != NULL);
    CIO_ASSERT_EQ(cio_join(t), 0);
}

/* A task's name, id and error message live in a record made on first
 * use, which then also keeps the task's context variables: they survive
 * its making, in a child named at spawn and in one that gets its record
 * later, and the child's own sets stay its own. */
static int name_myself_and_read(void *arg) {
    (void)arg;
    if (strcmp(cio_ctxvar_get(&var), "parent") != 0)
        return -1;
    if (cio_ctxvar_set(&var, "child", NULL) < 0)
        return -2;
    cio_task_set_name(NULL, "renamed"); /* makes the record now */
    if (strcmp(cio_ctxvar_get(&var), "child") != 0)
        return -3;
    cio_seterr(-EIO, "kept with the record");
    return strcmp(cio_task_name(NULL), "renamed") == 0 ? 5 : -4;
}

CIO_TEST(ctxvar_survives_the_task_record) {
    CIO_ASSERT_EQ(cio_ctxvar_set(&var, "parent", NULL), 0);
    cio_task *plain = cio_spawn(name_myself_and_read, NULL);
    cio_task *named =
        cio_spawn_with(name_myself_and_read, NULL, &(cio_spawn_opts){.name = "named"});
    CIO_ASSERT_EQ(cio_join(plain), 5);
    CIO_ASSERT_EQ(cio_join(named), 5);
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "parent");
}

CIO_TEST(ctxvar_many_variables) {
    static cio_ctxvar vs[20];
    for (int i = 0; i < 20; i++)
        vs[i] = (cio_ctxvar)CIO_CTXVAR_INIT("v", -1);
    for (int i = 0; i < 20; i++)
        CIO_ASSERT_EQ(cio_ctxvar_seti(&vs[i], i * 3, NULL), 0);
    for (int i = 0; i < 20; i++)
        CIO_ASSERT_EQ(cio_ctxvar_geti(&vs[i]), i * 3);
}

/* ---- the seed example (001: コンテキスト変数) ----
 *   async def func_c(id): print(id_var.get()); id_var.set(id); print(id_var.get())
 *   async def func_b(id): id_var.set(id); print(id_var.get())
 *       await asyncio.gather(func_c((id, 1)), func_c((id, 2))); print(id_var.get())
 *   async def func_a(): await asyncio.gather(func_b(1), func_b(2))
 * Values are printed as Python would print them. */

static cio_ctxvar id_var = CIO_CTXVAR_INIT("id_var", "blank");
static char out[512];
static void say(void) {
    strncat(out, cio_ctxvar_get(&id_var), sizeof out - strlen(out) - 2);
    strcat(out, "\n");
}

static char names[8][8];
static int nnames;
static const char *intern(const char *s) {
    for (int i = 0; i < nnames; i++)
        if (strcmp(names[i], s) == 0)
            return names[i];
    snprintf(names[nnames], sizeof names[0], "%s", s);
    return names[nnames++];
}

static int func_c(void *arg) {
    say();
    cio_ctxvar_set(&id_var, arg, NULL);
    say();
    return 0;
}

static int func_b(void *arg) {
    cio_ctxvar_set(&id_var, arg, NULL);
    say();
    char a[8], b[8];
    snprintf(a, sizeof a, "(%s, 1)", (char *)arg);
    snprintf(b, sizeof b, "(%s, 2)", (char *)arg);
    cio_task *t[2] = {cio_spawn(func_c, (void *)intern(a)), cio_spawn(func_c, (void *)intern(b))};
    int rc = cio_gather(t, 2, NULL);
    say();
    return rc;
}

static int func_a(void *arg) {
    (void)arg;
    cio_task *t[2] = {cio_spawn(func_b, "1"), cio_spawn(func_b, "2")};
    return cio_gather(t, 2, NULL);
}

CIO_TEST(ctxvar_seed_example_func_a_b_c) {
    out[0] = 0;
    CIO_ASSERT_EQ(func_a(NULL), 0);
    CIO_ASSERT_STREQ(out, "1\n2\n1\n(1, 1)\n1\n(1, 2)\n2\n(2, 1)\n2\n(2, 2)\n1\n2\n");
    CIO_ASSERT_STREQ(cio_ctxvar_get(&id_var), "blank"); /* nothing leaked up */
}

CIO_TEST(ctxvar_set_out_of_memory_changes_nothing) {
    cio_ctxvar_set(&var, "before", NULL);
    cio_task *sharer = cio_spawn(noop, NULL); /* shares the map: the next set copies */
    cio_test_fail_alloc(1);
    cio_ctxtoken tok;
    CIO_ASSERT_EQ(cio_ctxvar_set(&var, "after", &tok), -ENOMEM);
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "before");
    CIO_ASSERT_EQ(cio_join(sharer), 0);
    CIO_ASSERT_EQ(cio_ctxvar_set(&var, "after", &tok), 0);
    CIO_ASSERT_STREQ(cio_ctxvar_get(&var), "after");
}
