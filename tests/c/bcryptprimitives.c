/*
 * A test-only stand-in for bcryptprimitives.dll, for Wine 8.0, which lacks
 * ProcessPrng. Rust's std on Windows imports ProcessPrng, so without it every
 * Rust DLL and program fails to load under Wine (status c0000135). This fills
 * the buffer from SystemFunction036 (RtlGenRandom, advapi32). Built with
 * mingw-w64 by tests/windows/build-bcryptprimitives.sh (for .ci/abi.sh and
 * tests/windows/run-pester-wine.sh) and copied into a Wine prefix's system32
 * only; never shipped.
 */
#include <windows.h>

__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
