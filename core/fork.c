/*
 * fork.c — ember survives fork() in any state: the fork gate.
 *
 * After fork() the child has only the thread that forked. A mutex another
 * thread held stays locked forever there, and the structure it guarded
 * may be half updated; the same goes for LLVM's and libNVVM's own state
 * while another thread compiles. So every ember mutex is taken inside the
 * gate (em_mutex_lock), and so are the sections that use a library's
 * global state (em_fork_enter around a compile). The gate is a
 * writer-preferring read-write lock: a pthread_atfork prepare handler
 * takes it for writing, which waits until no thread is inside and keeps
 * new ones out, so the child inherits every structure whole and every
 * ember mutex unlocked. The parent then opens the gate again; the child
 * makes a new one (the old one's writer is a thread id of the parent).
 *
 * A thread inside the gate may enter it again (a lock taken during a
 * compile): a thread-local depth makes only the outermost entry touch the
 * lock, since a writer-preferring lock would deadlock a nested read behind
 * a waiting fork. Sections inside the gate must not wait for something a
 * forking thread may hold (Python's GIL): they are plain C.
 *
 * What cannot wait for the gate is rebuilt in the child instead: the
 * worker pools (a launch may run for minutes, and workers are threads the
 * child does not have) register a child handler (em_fork_on_child).
 */
#include <pthread.h>

#include "core.h"

#define MAX_CHILD_HANDLERS 8

static pthread_rwlock_t gate;
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static _Thread_local int depth; /* this thread's nesting inside the gate */
static void (*child_handlers[MAX_CHILD_HANDLERS])(void);
static int nchild_handlers; /* written before the first fork a handler matters to */

static void gate_init(void)
{
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&gate, &attr);
    pthread_rwlockattr_destroy(&attr);
}

static void before_fork(void) { pthread_rwlock_wrlock(&gate); }

static void after_fork_parent(void) { pthread_rwlock_unlock(&gate); }

static void after_fork_child(void)
{
    gate_init();
    for (int i = 0; i < nchild_handlers; i++)
        child_handlers[i]();
}

static void setup(void)
{
    gate_init();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void em_fork_enter(void)
{
    pthread_once(&gate_once, setup);
    if (depth++ == 0)
        pthread_rwlock_rdlock(&gate);
}

void em_fork_leave(void)
{
    EM_ASSERT(depth > 0);
    if (--depth == 0)
        pthread_rwlock_unlock(&gate);
}

void em_mutex_lock(pthread_mutex_t *m)
{
    em_fork_enter();
    pthread_mutex_lock(m);
}

void em_mutex_unlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
    em_fork_leave();
}

void em_fork_on_child(void (*fn)(void))
{
    em_fork_enter();
    static pthread_mutex_t handlers_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&handlers_lock);
    bool known = false;
    for (int i = 0; i < nchild_handlers; i++)
        known |= child_handlers[i] == fn;
    EM_ASSERT(known || nchild_handlers < MAX_CHILD_HANDLERS);
    if (!known)
        child_handlers[nchild_handlers++] = fn;
    pthread_mutex_unlock(&handlers_lock);
    em_fork_leave();
}
