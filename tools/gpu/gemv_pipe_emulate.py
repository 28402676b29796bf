#!/usr/bin/env python3
# Host emulation of kernels/gemv_pipe.cu's work split and mma fragments: for every tiling
# (k-slices x k-parts per tile, forced or chosen), FP8 and BF16 layouts and several grid
# sizes, each warp's lanes build their A / B fragments from the rows, chunks and x columns
# the kernel would copy, a float64 product stands in for mma (BF16: m16n8k16; FP8:
# m16n8k32 on x divided by its group scale, the scale applied with the weight's), and the
# round-end reduction runs as in the kernel; every output row must be written once and
# equal the float64 dot product. Catches index and fragment-layout mistakes without a GPU
# (not the kernel's numerics, cp.async or timing). Mirror changes to the kernel here.
# Needs python3-numpy (apt); about 40 s.  Usage: python3 tools/gpu/gemv_pipe_emulate.py
import sys

import numpy as np

def choose_shape(n_out, chunks, row_bytes, round_bytes, grid, force_ks, force_parts, pairs):
    best=None; best_cost=1<<62; best_steps=1<<62
    for ks in (1,2,4,8):
        if (force_ks>0 and ks!=force_ks) or (force_ks<=0 and ks>chunks): continue
        lc=(chunks+ks-1)//ks
        for parts in (1,2,4,8):
            if (force_parts>0 and parts!=force_parts) or (force_parts<=0 and parts>lc): continue
            rr=8//ks*(16//parts)
            if pairs and rr%2: continue
            steps=(lc+parts-1)//parts; rounds=(n_out+rr-1)//rr
            per_block=(rounds+grid-1)//grid
            cost=per_block*(rr*row_bytes+round_bytes); st=per_block*steps
            if cost<best_cost or (cost==best_cost and st<best_steps):
                best=(ks,parts,lc,steps,rounds); best_cost=cost; best_steps=st
    return best

def mma(cf, A, B, e):
    # A: [32 lanes][4 regs][e], B: [32][2][e] (e elements per register: 2 for m16n8k16, 4
    # for m16n8k32); returns updated cf [32][4]
    Am=np.zeros((16,8*e)); Bm=np.zeros((8*e,8))
    for lane in range(32):
        g,t=lane>>2,lane&3
        Am[g,e*t:e*t+e]=A[lane][0]; Am[g+8,e*t:e*t+e]=A[lane][1]
        Am[g,4*e+e*t:4*e+e*t+e]=A[lane][2]; Am[g+8,4*e+e*t:4*e+e*t+e]=A[lane][3]
        Bm[e*t:e*t+e,g]=B[lane][0]; Bm[4*e+e*t:4*e+e*t+e,g]=B[lane][1]
    C=Am@Bm
    for lane in range(32):
        g,t=lane>>2,lane&3
        cf[lane][0]+=C[g,2*t]; cf[lane][1]+=C[g,2*t+1]; cf[lane][2]+=C[g+8,2*t]; cf[lane][3]+=C[g+8,2*t+1]

def run(fp8, n_out, k, grid_max, force_ks, force_parts, rng, round_bytes=65536):
    cols=128 if fp8 else 64
    chunks=k//cols
    W=rng.standard_normal((n_out,k)); x=rng.standard_normal(k)
    block_in=128
    scales=rng.uniform(0.5,2,(n_out,(k+block_in-1)//block_in)) if fp8 else np.ones((n_out,1))
    shift=0  # block_in/cols = 1 for fp8 (128/128)
    # FP8: x's group scales (one per 128-column chunk); B holds x / scale.
    xs=rng.uniform(0.5,2,chunks) if fp8 else np.ones(chunks)
    xq=x/np.repeat(xs,cols)
    ks,parts,lc,steps,rounds=choose_shape(n_out,chunks,k*(1 if fp8 else 2),round_bytes,grid_max,
                                          force_ks,force_parts,False)
    grid=min(rounds,grid_max)
    tile_rows=16//parts; rr=8//ks*tile_rows
    y=np.full(n_out,np.nan); written=np.zeros(n_out,int)
    for b in range(grid):
        my_rounds=(rounds-1-b)//grid+1 if b<rounds else 0
        for j in range(my_rounds):
            rnd=b+j*grid
            partial=np.full((8,16),np.nan)
            for warp in range(8):
                tile=warp//ks; sl=warp%ks
                c_beg=sl*lc; c_end=min(chunks,c_beg+lc)
                acc=[[0.0]*4 for _ in range(32)]
                for step in range(steps):
                    cf=[[0.0]*4 for _ in range(32)]
                    def at(lane,rho):
                        r=rho%tile_rows; part=rho//tile_rows
                        row=rnd*rr+tile*tile_rows+r; ch=c_beg+step*parts+part
                        return row,ch,(row<n_out and ch<c_end)
                    # A lane's 16-byte piece h of a chunk row: piece_cols columns from
                    # byte 16t + 64h, as 4 words of e columns (FP8: 4 codes, BF16: 2);
                    # mma m of the piece takes words 2m (A's a0 / a1, B's b0) and 2m + 1
                    # (a2 / a3, b1), B the same columns of x.
                    piece_cols=16 if fp8 else 8
                    e=piece_cols//4
                    def words(v, row, ch, t, h):
                        base=ch*cols+(16*t+64*h)*piece_cols//16
                        return [v[row,base+e*i:base+e*i+e] if row is not None else np.zeros(e)
                                for i in range(4)]
                    xv=xq.reshape(1,-1)
                    for h in range(2):
                        for m in range(2):
                            A=[];B=[]
                            for lane in range(32):
                                g,t=lane>>2,lane&3
                                regs=[]
                                for rho in (g,g+8):
                                    row,ch,v=at(lane,rho)
                                    regs.append(words(W,row if v else None,ch,t,h))
                                A.append([regs[0][2*m],regs[1][2*m],regs[0][2*m+1],regs[1][2*m+1]])
                                cx=c_beg+step*parts+g; ok=g<parts and cx<c_end
                                xp=words(xv,0 if ok else None,cx,t,h)
                                B.append([xp[2*m],xp[2*m+1]])
                            mma(cf,A,B,e)
                    for lane in range(32):
                        g,t=lane>>2,lane&3
                        rowa,cha,va=at(lane,g)
                        rowb,chb,vb=at(lane,g+8)
                        sa=scales[rowa,cha>>shift]*xs[cha] if (va and fp8) else (1.0 if not fp8 else 0.0)
                        sb=scales[rowb,chb>>shift]*xs[chb] if (vb and fp8) else (1.0 if not fp8 else 0.0)
                        acc[lane][0]+=sa*cf[lane][0]; acc[lane][1]+=sa*cf[lane][1]
                        acc[lane][2]+=sb*cf[lane][2]; acc[lane][3]+=sb*cf[lane][3]
                for lane in range(32):
                    g,t=lane>>2,lane&3
                    for jr in range(4):
                        rho=g+8*(jr>>1); n=2*t+(jr&1)
                        if n==rho//tile_rows:
                            assert np.isnan(partial[warp,rho]); partial[warp,rho]=acc[lane][jr]
            assert not np.isnan(partial).any()
            row0=rnd*rr
            for tid in range(rr):
                if row0+tid<n_out:
                    tl=tid//tile_rows; r=tid%tile_rows
                    v=sum(partial[tl*ks+s2,r+q*tile_rows] for s2 in range(ks) for q in range(parts))
                    y[row0+tid]=v; written[row0+tid]+=1
    Ws=W*np.repeat(scales,block_in,axis=1)[:, :k] if fp8 else W
    ref=Ws@x
    assert (written==1).all(), (written.min(),written.max())
    err=np.abs(y-ref).max()/np.abs(ref).max()
    return err,(ks,parts,lc,steps,rounds,grid)

rng=np.random.default_rng(1)
worst=0
for fp8 in (True,False):
    for (n_out,k,grid) in ((306,1280,132),(306,1280,5),(37,640,3)):
        for fks in (0,1,2,4,8):
            for fparts in (0,1,2,4,8):
                err,shape=run(fp8,n_out,k,grid,fks,fparts,rng,0 if fks or fparts else 65536)
                worst=max(worst,err)
                if err>1e-9: print("BAD",fp8,n_out,k,grid,fks,fparts,shape,err); sys.exit(1)
        print("ok",fp8,n_out,k,flush=True)
print("all ok, worst",worst)
