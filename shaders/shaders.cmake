# One line per shader variant: vkg_shader(NAME SOURCE [DEFINES ...]).
vkg_shader(fill_u32 fill.comp)
vkg_shader(copy_add_u32 copy_add.comp)

# Weight types: name -> ggml type id.
set(VKG_WTYPES F32=0 F16=1 BF16=30 Q4_0=2 Q4_1=3 Q5_0=6 Q5_1=7 Q8_0=8 Q4_K=12 Q5_K=13 Q6_K=14)
foreach(tv ${VKG_WTYPES})
  string(REPLACE "=" ";" tv ${tv})
  list(GET tv 0 tn)
  list(GET tv 1 ti)
  string(TOLOWER ${tn} tl)
  # matrix x vector (decode): g = any row layout, a = rows of whole texel-aligned units
  vkg_shader(matvec_${tl}_g matvec.comp DEFINES WTYPE=${ti} ALIGNED=0)
  vkg_shader(get_rows_${tl} get_rows.comp DEFINES WTYPE=${ti})
  if(tn MATCHES "^Q[458]_[01]$")
    vkg_shader(matvec_${tl}_a matvec.comp DEFINES WTYPE=${ti} ALIGNED=1)
  endif()
endforeach()
