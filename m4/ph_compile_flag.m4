# PH_CHECK_CFLAG(FLAG, [ACTION-IF-OK])
# Adds FLAG to WARN_CFLAGS when the C compiler accepts it without a warning.
AC_DEFUN([PH_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([ph_var], [ph_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [ph_var], [
    ph_save_cflags=$CFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
      [AS_VAR_SET([ph_var], [yes])], [AS_VAR_SET([ph_var], [no])])
    CFLAGS=$ph_save_cflags
  ])
  AS_VAR_IF([ph_var], [yes], [WARN_CFLAGS="$WARN_CFLAGS $1"])
  AS_VAR_POPDEF([ph_var])
])
