# One line per shader variant: vkg_shader(NAME SOURCE [DEFINES ...]).
# Sources reading operands through fetch.glsl: every variant also exists as NAME_sb (storage
# buffers instead of uniform texel buffers; Ops picks per device, OpsVariants::texel_reads).
set(VKG_FETCH_SOURCES matvec.comp matvec_gpu.comp matmul.comp get_rows.comp attention.comp attn_decode.comp select.comp)
vkg_shader(fill_u32 fill.comp)
vkg_shader(copy_add_u32 copy_add.comp)

# Weight types: NAME=ggml type id, from runtime/weight_types.def (the one list, shared with
# runtime/ops.cpp); VKG_WTYPES_UNITS: those whose rows may be whole texel-aligned units.
set(wt_def ${PROJECT_SOURCE_DIR}/runtime/weight_types.def)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${wt_def})
file(STRINGS ${wt_def} wt_lines REGEX "^VKG_WTYPE\\(")
set(VKG_WTYPES "")
set(VKG_WTYPES_UNITS "")
foreach(l ${wt_lines})
  if(NOT l MATCHES "^VKG_WTYPE\\(([a-z0-9_]+), *([0-9]+), *([0-9]+), *([0-9]+), *([0-9]+)\\)$")
    message(FATAL_ERROR "weight_types.def: cannot parse '${l}'")
  endif()
  string(TOUPPER ${CMAKE_MATCH_1} wt_name)
  list(APPEND VKG_WTYPES ${wt_name}=${CMAKE_MATCH_2})
  if(CMAKE_MATCH_5 GREATER 1)
    list(APPEND VKG_WTYPES_UNITS ${wt_name})
  endif()
endforeach()
foreach(tv ${VKG_WTYPES})
  string(REPLACE "=" ";" tv ${tv})
  list(GET tv 0 tn)
  list(GET tv 1 ti)
  string(TOLOWER ${tn} tl)
  # matrix x vector (decode): g = any row layout, a = rows of whole texel-aligned units
  vkg_shader(matvec_${tl}_g matvec.comp DEFINES WTYPE=${ti} ALIGNED=0)
  vkg_shader(get_rows_${tl} get_rows.comp DEFINES WTYPE=${ti})
  vkg_shader(matmul_${tl} matmul.comp DEFINES WTYPE=${ti})
  # fused feed-forward gate/up (+ rms norm of X, gelu * up): Ops::gate_up_gelu
  vkg_shader(matvec_gate_up_${tl}_g matvec.comp DEFINES WTYPE=${ti} ALIGNED=0 GATE_UP=1)
  # GPU decode ("split-K": K across the lanes of a subgroup, or of the workgroup with _wg where
  # there is no subgroup arithmetic): OpsVariants::matvec_split_k
  vkg_shader(matvec_gpu_${tl} matvec_gpu.comp DEFINES WTYPE=${ti} SUBGROUP=1)
  vkg_shader(matvec_gpu_${tl}_wg matvec_gpu.comp DEFINES WTYPE=${ti} SUBGROUP=0)
  vkg_shader(matvec_gate_up_gpu_${tl} matvec_gpu.comp DEFINES WTYPE=${ti} SUBGROUP=1 GATE_UP=1)
  vkg_shader(matvec_gate_up_gpu_${tl}_wg matvec_gpu.comp DEFINES WTYPE=${ti} SUBGROUP=0 GATE_UP=1)
  if(tn IN_LIST VKG_WTYPES_UNITS)
    vkg_shader(matvec_${tl}_a matvec.comp DEFINES WTYPE=${ti} ALIGNED=1)
    vkg_shader(matvec_gate_up_${tl}_a matvec.comp DEFINES WTYPE=${ti} ALIGNED=1 GATE_UP=1)
  endif()
endforeach()

# Element-wise ops.
vkg_shader(gelu_mul eltwise.comp DEFINES OP_GELU_MUL=1)
vkg_shader(add_scale eltwise.comp DEFINES OP_ADD_SCALE=1)
vkg_shader(scale eltwise.comp DEFINES OP_SCALE=1)
vkg_shader(softcap eltwise.comp DEFINES OP_SOFTCAP=1)
vkg_shader(row_select eltwise.comp DEFINES OP_ROW_SELECT=1)
vkg_shader(rms_norm_sg rms_norm.comp DEFINES ADD=0 SUBGROUP=1)
vkg_shader(rms_norm rms_norm.comp DEFINES ADD=0 SUBGROUP=0)
vkg_shader(rms_norm_add_sg rms_norm.comp DEFINES ADD=1 SUBGROUP=1)
vkg_shader(rms_norm_add rms_norm.comp DEFINES ADD=1 SUBGROUP=0)
vkg_shader(rope_neox rope.comp)
vkg_shader(kv_store_f16 kv_store.comp DEFINES F16=1)
vkg_shader(kv_store_f32 kv_store.comp DEFINES F16=0)

# Attention: compiled for head dims 128 / 256 / 512 (smaller multiples of 32 masked); F16 or F32 cache.
foreach(hd 128 256 512)
  vkg_shader(attention_h${hd}_f16 attention.comp DEFINES HD=${hd} F16=1)
  vkg_shader(attention_h${hd}_f32 attention.comp DEFINES HD=${hd} F16=0)
endforeach()
vkg_shader(attn_merge attn_merge.comp)
# Decode attention (head dim split across one subgroup; needs subgroup arithmetic).
foreach(hd 128 256 512)
  vkg_shader(attn_decode_h${hd}_f16 attn_decode.comp DEFINES HD=${hd} F16=1)
  vkg_shader(attn_decode_h${hd}_f32 attn_decode.comp DEFINES HD=${hd} F16=0)
endforeach()

# Top-k / argmax: pass over floats or over candidate pairs, with or without subgroup arithmetic.
vkg_shader(select_x_sg select.comp DEFINES PAIRS=0 SUBGROUP=1)
vkg_shader(select_x select.comp DEFINES PAIRS=0 SUBGROUP=0)
vkg_shader(select_p_sg select.comp DEFINES PAIRS=1 SUBGROUP=1)
vkg_shader(select_p select.comp DEFINES PAIRS=1 SUBGROUP=0)
