/* Test-only shim for Wine 8, which has no bcryptprimitives.dll: Rust's std
 * (1.78+) imports ProcessPrng from it. Built with mingw by .ci/windows-smoke,
 * placed beside rgs-repair.exe for the Wine run only; never shipped. */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
