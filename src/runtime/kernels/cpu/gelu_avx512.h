// GELU (erf form) of 16 floats for AVX-512, by a table of polynomials: GELU(x) = x Phi(x), with Phi
// (the normal CDF) on [-6, 6] a degree-5 polynomial in u = x - c on each of 32 intervals of width
// 3/8 (c the interval's centre); the six coefficients of x's interval are picked from the table by
// vpermi2ps, two registers a coefficient. Outside: Phi = 1 above 6 (x Phi(6) rounds to x in float),
// and 0 below -6 (|GELU| < 6e-9 there), which keeps -inf and NaN giving NaN as the formula does.
//
// Why: the formula (erf by Abramowitz-Stegun 7.1.26 and an exp, which the portable and AVX2 code
// keep) takes about 24 multiplies and FMAs per vector, all on the two FMA pipes; this takes 8 of those,
// 6 permutes and a few cheap operations. In the FFN's first int8 product at 128 tokens (128 x 768 x
// 3072, cold weights, one thread) GELU by the formula cost 11-12 % of the product; by the table about
// half that: the product ran 5.5 % faster, the two interleaved in one process. Accuracy: the table's
// comment (scripts/gen-gelu-table writes both).
#pragma once
#include <immintrin.h>

#include "runtime/kernels/cpu/isa.h"

namespace kiln::cpu {

// Worst error on 2 000 001 points of [-10, 10]: 5.26e-07 absolute (at x = 4.9936),
// 1.10e-07 relative to max(|x|, 1), 5.52e-05 relative on (-6, 10].
alignas(64) inline constexpr float kGeluPhi[6][32] = {
    // x^0
    {3.07741255e-09f, 2.70171636e-08f, 2.06899529e-07f, 1.38282394e-06f, 8.07097967e-06f, 4.11675574e-05f,
     0.000183670127f, 0.000717542483f, 0.00245790114f, 0.00739460625f, 0.0195800774f, 0.0457536243f,
     0.0946757421f, 0.174250722f, 0.286887705f, 0.425634325f, 0.574365675f, 0.713112295f,
     0.825749278f, 0.90532428f, 0.954246402f, 0.980419934f, 0.992605388f, 0.997542083f,
     0.999282479f, 0.999816358f, 0.999958813f, 0.999991953f, 0.999998629f, 0.999999821f,
     1.0f, 1.0f},
    // x^1
    {1.83850215e-08f, 1.51560613e-07f, 1.08549125e-06f, 6.75439287e-06f, 3.65147425e-05f, 0.000171503751f,
     0.000699847937f, 0.00248118653f, 0.00764260581f, 0.0204526838f, 0.0475539118f, 0.0960615203f,
     0.168593183f, 0.257073879f, 0.340567559f, 0.39199087f, 0.3919909f, 0.340567619f,
     0.257073909f, 0.168593183f, 0.0960614979f, 0.0475538895f, 0.0204526726f, 0.00764260488f,
     0.00248119072f, 0.000699852128f, 0.000171506239f, 3.65158303e-05f, 6.75476394e-06f, 1.08559323e-06f,
     1.51583649e-07f, 1.83893398e-08f},
    // x^2
    {5.33787379e-08f, 4.1174178e-07f, 2.7461017e-06f, 1.58243365e-05f, 7.87144018e-05f, 0.000337595528f,
     0.00124650612f, 0.00395428343f, 0.0107474457f, 0.0249271113f, 0.0490408018f, 0.0810526982f,
     0.110639118f, 0.120501801f, 0.0957824588f, 0.0367481187f, -0.036748115f, -0.0957824439f,
     -0.120501772f, -0.110639118f, -0.081052728f, -0.0490408428f, -0.0249271356f, -0.0107474485f,
     -0.00395427225f, -0.00124649331f, -0.000337587117f, -7.87103563e-05f, -1.58228304e-05f, -2.74565218e-06f,
     -4.11631987e-07f, -5.33565157e-08f},
    // x^3
    {1.00922755e-07f, 7.24045321e-07f, 4.46657896e-06f, 2.36490214e-05f, 0.000107212021f, 0.000414849987f,
     0.00136417116f, 0.00378852547f, 0.00880199485f, 0.0168431308f, 0.025787117f, 0.0295791961f,
     0.0203052908f, -0.00518645113f, -0.0387985893f, -0.0630328059f, -0.0630346462f, -0.0388026498f,
     -0.00518965069f, 0.0203049518f, 0.0295812301f, 0.0257895477f, 0.0168444663f, 0.00880210195f,
     0.00378804677f, 0.00136368163f, 0.000414555252f, 0.000107082407f, 2.36044689e-05f, 4.45421938e-06f,
     7.21227252e-07f, 1.00388874e-07f},
    // x^4
    {1.42968915e-07f, 9.4546607e-07f, 5.3377139e-06f, 2.56362528e-05f, 0.000104252133f, 0.00035655871f,
     0.00101538072f, 0.00236875121f, 0.00439516734f, 0.00607734313f, 0.00505773211f, -0.00109156081f,
     -0.0117648952f, -0.0211776476f, -0.0212543774f, -0.00900127832f, 0.00900119822f, 0.0212538596f,
     0.0211769752f, 0.0117647992f, 0.00109231449f, -0.00505664805f, -0.0060766479f, -0.00439510588f,
     -0.00236907369f, -0.00101574662f, -0.000356801203f, -0.000104368642f, -2.56797357e-05f, -5.35073923e-06f,
     -9.48656918e-07f, -1.43617598e-07f},
    // x^5
    {1.36873567e-07f, 8.43763075e-07f, 4.39649375e-06f, 1.92427469e-05f, 7.01119861e-05f, 0.000209725215f,
     0.000503026997f, 0.000923198822f, 0.00114624167f, 0.000465610297f, -0.00171051279f, -0.00472302828f,
     -0.00609686133f, -0.00323296781f, 0.00333529664f, 0.0090265274f, 0.0090684304f, 0.00342764333f,
     -0.00316009624f, -0.00608913833f, -0.00476948684f, -0.00176609913f, 0.000434979476f, 0.00114378775f,
     0.000934231386f, 0.000514339772f, 0.000216559361f, 7.3128198e-05f, 2.02836418e-05f, 4.68648932e-06f,
     9.10191829e-07f, 1.49519991e-07f},
};

// Coefficient d of each lane's interval j.
KILN_TARGET(Avx512) inline __m512 gelu_phi_coef(int d, __m512i j) {
  return _mm512_permutex2var_ps(_mm512_load_ps(kGeluPhi[d]), j, _mm512_load_ps(kGeluPhi[d] + 16));
}

KILN_TARGET(Avx512) inline __m512 gelu_erf16(__m512 x) {
  // x kept to [-6, 6): the interval trunc((x + 6) * 8 / 3) is then 0 to 31 (at -6 the FMA gives
  // -2.4e-7, which truncates to 0); a NaN becomes -6 here (vmaxps returns its second operand).
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-6.f)), _mm512_set1_ps(5.999998f));
  const __m512i j = _mm512_cvttps_epi32(_mm512_fmadd_ps(xc, _mm512_set1_ps(8.f / 3.f), _mm512_set1_ps(16.f)));
  // Its centre -6 + 3/8 (j + 1/2), a multiple of 1/16: exact, and so is u (|u| <= 3/16).
  const __m512 c = _mm512_fmadd_ps(_mm512_cvtepi32_ps(j), _mm512_set1_ps(0.375f), _mm512_set1_ps(-5.8125f));
  const __m512 u = _mm512_sub_ps(xc, c);
  __m512 p = gelu_phi_coef(5, j);
  p = _mm512_fmadd_ps(p, u, gelu_phi_coef(4, j));
  p = _mm512_fmadd_ps(p, u, gelu_phi_coef(3, j));
  p = _mm512_fmadd_ps(p, u, gelu_phi_coef(2, j));
  p = _mm512_fmadd_ps(p, u, gelu_phi_coef(1, j));
  p = _mm512_fmadd_ps(p, u, gelu_phi_coef(0, j));
  // Phi = 0 below -6, and for NaN (the comparison is false), so that x Phi is NaN there.
  p = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-6.f), _CMP_GE_OQ), p);
  return _mm512_mul_ps(x, p);
}

}  // namespace kiln::cpu
