/* Does a second thread make progress under qemu user-mode emulation on this host?
 *
 * cross/ci.sh builds this with the cross compiler and runs it under qemu before it decides to
 * run hark's test suites there (libtest runs every test on a thread). On some hosts an aarch64
 * guest's second thread spins forever: this program then never prints. */
#include <pthread.h>
#include <stdio.h>

static void *work(void *arg) {
    long sum = 0;
    for (long i = 0; i < 1000000; i++) sum += i;
    *(long *)arg = sum;
    return NULL;
}

int main(void) {
    pthread_t thread;
    long sum = 0;
    if (pthread_create(&thread, NULL, work, &sum) != 0) return 2;
    if (pthread_join(thread, NULL) != 0) return 3;
    if (sum != 499999500000L) return 4;
    puts("threads ok");
    return 0;
}
