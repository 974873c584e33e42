#ifndef WSGATE_CCRYPT_SHIM_H
#define WSGATE_CCRYPT_SHIM_H
// libxcrypt (Debian's libcrypt-dev): crypt_rn, the reentrant crypt(3), and crypt_checksalt.
#include <crypt.h>
#endif
