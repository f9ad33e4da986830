namespace LoKO.Engine.Tests.Filter;

/// <summary>
/// An independent double-precision LoKO filter for <see cref="TinyMlp"/>, written from the equations of
/// LOKO-ALGORITHM.md with plain arrays: analytic Jacobian, Cholesky by hand, no TorchSharp.
/// Auto P₀, full R, linearised residual, jitter δ = jitter·trace(S)/m on the first attempt.
/// </summary>
sealed class ReferenceFilter(TinyMlp model, double[] theta, double r0, double beta, double q, double pMin, double jitter)
{
    public double[] Theta { get; } = (double[])theta.Clone();
    public double[]? P { get; private set; }
    public double[,]? R { get; private set; }

    public void Step(double[] x, int label)
    {
        int c = model.Classes, n = model.N, h = TinyMlp.Hidden, d = TinyMlp.Inputs;
        // forward
        int oW1 = 0, oB1 = h * d, oW2 = oB1 + h, oB2 = oW2 + c * h;
        var a = new double[h];
        for (int i = 0; i < h; i++)
        {
            double s = Theta[oB1 + i];
            for (int l = 0; l < d; l++) s += Theta[oW1 + i * d + l] * x[l];
            a[i] = Math.Tanh(s);
        }
        var z = new double[c];
        for (int k = 0; k < c; k++)
        {
            double s = Theta[oB2 + k];
            for (int i = 0; i < h; i++) s += Theta[oW2 + k * h + i] * a[i];
            z[k] = s;
        }
        double zmax = z.Max();
        var ex = z.Select(v => Math.Exp(v - zmax)).ToArray();
        var yHat = ex.Select(v => v / ex.Sum()).ToArray();

        // ∂z_k/∂θ, then H = (diag(ŷ) − ŷŷᵀ)·∂z/∂θ
        var dz = new double[c, n];
        for (int k = 0; k < c; k++)
        {
            dz[k, oB2 + k] = 1;
            for (int i = 0; i < h; i++)
            {
                dz[k, oW2 + k * h + i] = a[i];
                double back = Theta[oW2 + k * h + i] * (1 - a[i] * a[i]);
                dz[k, oB1 + i] = back;
                for (int l = 0; l < d; l++) dz[k, oW1 + i * d + l] = back * x[l];
            }
        }
        var H = new double[c, n];
        for (int j = 0; j < c; j++)
            for (int k = 0; k < c; k++)
            {
                double jac = yHat[j] * ((j == k ? 1 : 0) - yHat[k]);
                for (int t = 0; t < n; t++) H[j, t] += jac * dz[k, t];
            }

        if (R is null)
        {
            R = new double[c, c];
            for (int i = 0; i < c; i++) R[i, i] = r0;
            double norm2 = 0;
            foreach (var v in H) norm2 += v * v;
            P = Enumerable.Repeat(c * r0 / norm2, n).ToArray();
        }
        var p = P!.Select(v => v + q).ToArray();
        var e = Enumerable.Range(0, c).Select(j => (j == label ? 1.0 : 0.0) - yHat[j]).ToArray();

        var G = new double[c, c];
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++)
                for (int t = 0; t < n; t++) G[i, j] += H[i, t] * p[t] * H[j, t];
        var S = new double[c, c];
        double trace = 0;
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) { S[i, j] = G[i, j] + R[i, j]; if (i == j) trace += S[i, j]; }
        for (int i = 0; i < c; i++) S[i, i] += jitter * trace / c;
        var L = Cholesky(S);

        // Kᵀ = S⁻¹·H·diag(p), column by column of H·diag(p)
        var kT = new double[c, n];
        var col = new double[c];
        for (int t = 0; t < n; t++)
        {
            for (int i = 0; i < c; i++) col[i] = H[i, t] * p[t];
            var sol = Solve(L, col);
            for (int i = 0; i < c; i++) kT[i, t] = sol[i];
        }
        for (int t = 0; t < n; t++)
        {
            double dTheta = 0, reduce = 0;
            for (int j = 0; j < c; j++) { dTheta += kT[j, t] * e[j]; reduce += kT[j, t] * H[j, t]; }
            Theta[t] += dTheta;
            p[t] = Math.Max(p[t] - p[t] * reduce, pMin);
        }
        var sInvE = Solve(L, e);
        var eps = new double[c];
        for (int i = 0; i < c; i++) { eps[i] = e[i]; for (int j = 0; j < c; j++) eps[i] -= G[i, j] * sInvE[j]; }
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++)
                R[i, j] = beta * R[i, j] + (1 - beta) * (eps[i] * eps[j] + G[i, j]);
        P = p;
    }

    static double[,] Cholesky(double[,] a)
    {
        int m = a.GetLength(0);
        var l = new double[m, m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = i == j ? Math.Sqrt(s) : s / l[j, j];
            }
        return l;
    }

    static double[] Solve(double[,] l, double[] b)
    {
        int m = b.Length;
        var y = new double[m];
        for (int i = 0; i < m; i++) { double s = b[i]; for (int k = 0; k < i; k++) s -= l[i, k] * y[k]; y[i] = s / l[i, i]; }
        var x = new double[m];
        for (int i = m - 1; i >= 0; i--) { double s = y[i]; for (int k = i + 1; k < m; k++) s -= l[k, i] * x[k]; x[i] = s / l[i, i]; }
        return x;
    }
}
