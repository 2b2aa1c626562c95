#!/bin/sh
# Prints "yes" when the libstdc++.so.6 that the dynamic loader finds lacks GLIBCXX_3.4.32, else "no".
# Used by the build (Leakage.csproj) to decide whether to compile the compatibility shim.
lib=$(/sbin/ldconfig -p 2>/dev/null | grep 'libstdc++\.so\.6 ' | head -n 1 | awk '{print $NF}')
if [ -z "$lib" ] || [ ! -r "$lib" ]; then
  echo yes   # cannot tell: build the shim; the library decides at run time whether to load it
elif grep -qa 'GLIBCXX_3\.4\.32' "$lib"; then
  echo no
else
  echo yes
fi
