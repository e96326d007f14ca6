/* Preloaded under ASan and valgrind: lua_close dlcloses libcurl, orphaning
 * static allocations of libldap/libsasl2 that then show as leaks.  Keeping
 * every library loaded removes that false report (reference: toolchain.md). */
int dlclose(void *handle);
int dlclose(void *handle)
{
  (void)handle;
  return 0;
}
