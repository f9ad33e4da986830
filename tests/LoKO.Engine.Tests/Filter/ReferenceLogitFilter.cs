using LoKO.Engine.Filter;

namespace LoKO.Engine.Tests.Filter;

/// <summary>
/// An independent double-precision filter with the logit observation for <see cref="TinyMlp"/>, written with plain
/// arrays from the equations (KALMAN-QUALITY.md A–E): analytic ∂z/∂θ, Gaussian elimination, no TorchSharp.
/// Head = (W2, b2) on the features tanh(W1·x + b1); the diagonal block is everything else (or all of θ).
/// </summary>
sealed class ReferenceLogitFilter(TinyMlp model, double[] theta, LokoOptions o)
{
    public double[] Theta { get; } = (double[])theta.Clone();
    public double[]? P { get; private set; }
    public double[,]? Sigma { get; private set; }
    public double Tau { get; private set; } = o.Temperature;
    double _c, _sigma0, _priorSum;
    int _priorSeen;

    public void Step(double[] x, int label)
    {
        int c = model.Classes, n = model.N, h = TinyMlp.Hidden, d = TinyMlp.Inputs;
        int oB1 = h * d, oW2 = oB1 + h, oB2 = oW2 + c * h;
        bool shared = o.Head == HeadCovariance.Shared, jacobianMode = o.DiagonalObservation == DiagonalObservation.Jacobian;
        bool posterior = !jacobianMode && o.DiagonalMean == DiagonalMean.Posterior;
        var act = new double[h];
        for (int i = 0; i < h; i++)
        {
            double s0 = Theta[oB1 + i];
            for (int l = 0; l < d; l++) s0 += Theta[i * d + l] * x[l];
            act[i] = Math.Tanh(s0);
        }
        var z = new double[c];
        for (int k = 0; k < c; k++)
        {
            z[k] = Theta[oB2 + k];
            for (int i = 0; i < h; i++) z[k] += Theta[oW2 + k * h + i] * act[i];
        }
        double zmax = z.Max();
        var ex = z.Select(v => Math.Exp(v - zmax)).ToArray();
        var yHat = ex.Select(v => v / ex.Sum()).ToArray();
        var e = Enumerable.Range(0, c).Select(k => (k == label ? 1.0 : 0.0) - yHat[k]).ToArray();
        var lambda = new double[c, c];
        for (int i = 0; i < c; i++)
            for (int k = 0; k < c; k++) lambda[i, k] = (i == k ? yHat[i] + o.LambdaFloor / c : 0) - yHat[i] * yHat[k];

        // J = ∂z/∂θ with the shared head's columns removed
        var mask = Enumerable.Range(0, n).Select(t => shared && t >= oW2 ? 0.0 : 1.0).ToArray();
        var J = new double[c, n];
        for (int k = 0; k < c; k++)
        {
            J[k, oB2 + k] = 1;
            for (int i = 0; i < h; i++)
            {
                J[k, oW2 + k * h + i] = act[i];
                double back = Theta[oW2 + k * h + i] * (1 - act[i] * act[i]);
                J[k, oB1 + i] = back;
                for (int l = 0; l < d; l++) J[k, i * d + l] = back * x[l];
            }
            for (int t = 0; t < n; t++) J[k, t] *= mask[t];
        }
        var g = new double[n];
        for (int t = 0; t < n; t++) for (int k = 0; k < c; k++) g[t] += J[k, t] * e[k];
        double ee = e.Sum(v => v * v);
        var phi = act.Append(1.0).ToArray();

        // priors
        if (shared && Sigma is null)
        {
            _sigma0 = o.HeadPriorVariance / phi.Sum(v => v * v);
            Sigma = Identity(h + 1, _sigma0);
        }
        if (P is null || (o.P0 != InitialCovariance.Constant && _priorSeen < o.PriorExamples))
        {
            double measured = 0;
            if (jacobianMode) { foreach (var v in J) measured += v * v; measured /= c; }
            else measured = g.Sum(v => v * v) / ee;
            double scale = o.P0Constant;
            bool update = true;
            if (o.P0 != InitialCovariance.Constant && measured > 0) { _priorSum += measured; _priorSeen++; scale = o.DiagonalPriorVariance / (_priorSum / _priorSeen); }
            else if (P is not null) update = false;
            if (update)
            {
                P = P is null ? mask.Select(m => m * scale).ToArray() : P.Select(v => v * scale / _c).ToArray();
                _c = scale;
            }
        }

        // reversion
        double g2 = o.Reversion * o.Reversion, gh2 = o.HeadReversion * o.HeadReversion;
        var p = P!.Select((v, t) => g2 * v + (1 - g2) * _c * mask[t]).ToArray();
        double[,]? sigma = null;
        if (shared)
        {
            sigma = new double[h + 1, h + 1];
            for (int i = 0; i <= h; i++) for (int k = 0; k <= h; k++) sigma[i, k] = gh2 * Sigma![i, k] + (i == k ? (1 - gh2) * _sigma0 : 0);
        }

        // V
        var V = new double[c, c];
        if (jacobianMode)
            for (int i = 0; i < c; i++) for (int k = 0; k < c; k++) for (int t = 0; t < n; t++) V[i, k] += J[i, t] * p[t] * J[k, t];
        else if (!posterior)
        {
            double rho = 0;
            for (int t = 0; t < n; t++) rho += g[t] * p[t] * g[t];
            for (int i = 0; i < c; i++) V[i, i] = rho / ee;
        }
        double[]? a = null;
        double sHead = 0;
        if (sigma is not null)
        {
            a = new double[h + 1];
            for (int i = 0; i <= h; i++) for (int k = 0; k <= h; k++) a[i] += sigma[i, k] * phi[k];
            sHead = phi.Zip(a).Sum(q => q.First * q.Second);
            for (int i = 0; i < c; i++) V[i, i] += sHead;
        }

        // robust weight from eᵀ(ΛVΛ + τΛ)⁻¹e
        var lv = Mul(lambda, V);
        var sSym = Mul(lv, lambda);
        for (int i = 0; i < c; i++) for (int k = 0; k < c; k++) sSym[i, k] += Tau * lambda[i, k];
        double nis = e.Zip(Solve(sSym, e)).Sum(q => q.First * q.Second);
        double w = o.RobustScale == 0 ? 1 : o.RobustScale * o.RobustScale / (o.RobustScale * o.RobustScale + nis);
        double tau = Tau / w;
        var sMat = new double[c, c];
        for (int i = 0; i < c; i++) for (int k = 0; k < c; k++) sMat[i, k] = (i == k ? tau : 0) + lv[i, k];
        var u = Solve(sMat, e);

        // θ
        double eu = e.Zip(u).Sum(q => q.First * q.Second);
        for (int t = 0; t < n; t++)
        {
            double jtu = 0;
            for (int k = 0; k < c; k++) jtu += J[k, t] * u[k];
            if (!posterior) Theta[t] += jacobianMode ? p[t] * jtu : p[t] * g[t] * eu / ee;
        }
        if (a is not null)
            for (int k = 0; k < c; k++)
            {
                for (int i = 0; i < h; i++) Theta[oW2 + k * h + i] += u[k] * a[i];
                Theta[oB2 + k] += u[k] * a[h];
            }

        // p
        double gpg = 0;
        for (int t = 0; t < n; t++) gpg += g[t] * p[t] * g[t];
        var M = new double[c, c];
        for (int col = 0; col < c; col++)
        {
            var sol = Solve(sMat, Enumerable.Range(0, c).Select(i => lambda[i, col]).ToArray());
            for (int i = 0; i < c; i++) M[i, col] = sol[i];
        }
        var next = new double[n];
        for (int t = 0; t < n; t++)
        {
            double quad = 0, info = 0;
            for (int i = 0; i < c; i++)
                for (int k = 0; k < c; k++)
                {
                    quad += J[i, t] * 0.5 * (M[i, k] + M[k, i]) * J[k, t];
                    info += J[i, t] * lambda[i, k] * J[k, t];
                }
            double v = (jacobianMode, o.DiagonalForm) switch
            {
                (true, DiagonalForm.Covariance) => p[t] - p[t] * p[t] * quad,
                (true, DiagonalForm.Precision) => p[t] / (1 + p[t] * info / tau),
                (false, DiagonalForm.Covariance) => p[t] - p[t] * p[t] * g[t] * g[t] / (tau + gpg),
                (false, DiagonalForm.Precision) => p[t] / (1 + p[t] * g[t] * g[t] / tau),
                _ => p[t] / Math.Sqrt(1 + Math.Pow(p[t] * g[t] / o.RootScale, 2)),
            };
            next[t] = Math.Max(v, o.PMin) * mask[t];
            if (posterior) Theta[t] += next[t] * g[t] / tau;
        }
        P = next;

        if (sigma is not null)
        {
            double trace = 0;
            for (int i = 0; i < c; i++) trace += lambda[i, i];
            double lbar = trace / (c - 1);
            for (int i = 0; i <= h; i++) for (int k = 0; k <= h; k++) sigma[i, k] -= lbar * a![i] * a[k] / (tau + lbar * sHead);
            Sigma = sigma;
        }
        if (o.TemperatureBeta > 0) Tau *= o.TemperatureBeta + (1 - o.TemperatureBeta) * Math.Min(nis / (c - 1), 10);
    }

    static double[,] Identity(int m, double v)
    {
        var r = new double[m, m];
        for (int i = 0; i < m; i++) r[i, i] = v;
        return r;
    }

    static double[,] Mul(double[,] x, double[,] y)
    {
        int m = x.GetLength(0);
        var r = new double[m, m];
        for (int i = 0; i < m; i++) for (int k = 0; k < m; k++) for (int l = 0; l < m; l++) r[i, k] += x[i, l] * y[l, k];
        return r;
    }

    /// <summary>Gaussian elimination with partial pivoting.</summary>
    static double[] Solve(double[,] matrix, double[] b)
    {
        int m = b.Length;
        var a = (double[,])matrix.Clone();
        var x = (double[])b.Clone();
        for (int col = 0; col < m; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < m; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            for (int k = 0; k < m; k++) (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
            (x[col], x[pivot]) = (x[pivot], x[col]);
            for (int r = col + 1; r < m; r++)
            {
                double f = a[r, col] / a[col, col];
                for (int k = col; k < m; k++) a[r, k] -= f * a[col, k];
                x[r] -= f * x[col];
            }
        }
        for (int r = m - 1; r >= 0; r--)
        {
            for (int k = r + 1; k < m; k++) x[r] -= a[r, k] * x[k];
            x[r] /= a[r, r];
        }
        return x;
    }
}
